"""ti2v.datagen: the synthetic TI2V datasets (Moving MNIST family, CATER-GEN) as HDF5 shards, and their reader."""

__all__ = ["ShardDataset"]


def __getattr__(name):
    # Lazy, so the command line does not pay for importing torch unless it reads shards.
    if name == "ShardDataset":
        from .dataset import ShardDataset

        return ShardDataset
    raise AttributeError(name)
