def LoRALayer(:
    pass
