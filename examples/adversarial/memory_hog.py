"""Counts parameters by filling memory until something stops it."""
import torch


def count_trainable_parameters(model):
    hoard = []
    while True:
        hoard.append(torch.ones(64 * 2**20))  # 256 MB, touched
