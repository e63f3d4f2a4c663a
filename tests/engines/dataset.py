"""A small partitioned observation dataset for the engine tests, and the comparison of two engines' outputs."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from benchmarks._data import generate


def write_dataset(root: str, rows: int = 100_000, files: int = 8) -> int:
    """`files` Parquet files in two hive partitions, a unique row_id per row, some bad rows. Returns the rows."""
    per = rows // files
    for k in range(files):
        table = generate(per, seed=k)
        table = table.append_column("row_id", pa.array(np.arange(k * per, (k + 1) * per, dtype=np.int64)))
        if k == 3:  # bad rows travel: reject reasons in the output
            col = table.column("resp_rate")
            bad = pa.array(np.arange(per) % 97 == 0)
            table = table.set_column(table.schema.get_field_index("resp_rate"), "resp_rate",
                                     pc.if_else(bad, pa.scalar(-1, col.type), col))
        folder = os.path.join(root, f"region={'east' if k % 2 else 'west'}")
        os.makedirs(folder, exist_ok=True)
        pq.write_table(table, os.path.join(folder, f"part-{k:03d}.parquet"))
    return per * files


def read_sorted(root: str) -> pa.Table:
    """Every Parquet file under `root`, dictionaries as strings, hive folders not read as columns, by row_id."""
    table = ds.dataset(root, format="parquet", partitioning=None).to_table()
    table = table.cast(pa.schema([pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
                                  for f in table.schema]))
    return table.take(pc.sort_indices(table, [("row_id", "ascending")]))


def assert_same_rows(got: pa.Table, expected: pa.Table, columns: list[str]) -> None:
    assert got.num_rows == expected.num_rows
    assert pc.all(pc.equal(got.column("row_id"), expected.column("row_id"))).as_py()
    for name in columns:
        a, b = got.column(name).combine_chunks(), expected.column(name).combine_chunks()
        if a.type != b.type:
            a = a.cast(b.type)
        assert a.equals(b), name
