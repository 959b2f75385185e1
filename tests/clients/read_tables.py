"""Read featurizer tables with the real clients, for tests/clients_test.go.

    python read_tables.py REQUEST.json RESULT.json

REQUEST: {"tables": [{"path": DIR, "kind": "features"|"predictions"}, ...],
          "spark_ml": {"code": PYTHON, "export": [NAME, ...]} (optional)}
One PySpark session (local[2]) reads every table twice, with the vectorized
Parquet reader on and off; pyarrow reads every data file and its footer and
walks its page headers; DuckDB reads each table's glob. What each client saw
goes into RESULT as it is: the Go test compares it with the table. Relative
paths (the Spark ML sample's) are relative to the working directory.
"""
import json
import os
import struct
import sys
import time


def bits(floats):
    """float32 values as their bit patterns (exact comparison in Go)."""
    if floats is None:
        return None
    return list(struct.unpack("<%dI" % len(floats), struct.pack("<%df" % len(floats), *floats)))


def data_files(table):
    """The files a Parquet reader of the directory takes (Hadoop's rule:
    names starting with _ or . are not data) and the rejects' parts."""
    data = sorted(os.path.join(table, n) for n in os.listdir(table)
                  if not n.startswith(("_", ".")) and os.path.isfile(os.path.join(table, n)))
    rej_dir = os.path.join(table, "_rejects")
    rejects = sorted(os.path.join(rej_dir, n) for n in os.listdir(rej_dir)
                     if n.endswith(".parquet")) if os.path.isdir(rej_dir) else []
    return data, rejects


# --- Parquet page headers (Thrift compact protocol) ---------------------------
# pyarrow gives each column chunk's offsets and encodings, not its pages'
# headers; this reads them, enough to tell data page v1 from v2 and the
# encoding of every page.

class Compact:
    def __init__(self, buf, pos):
        self.b, self.p = buf, pos

    def byte(self):
        v = self.b[self.p]
        self.p += 1
        return v

    def varint(self):
        shift = result = 0
        while True:
            v = self.byte()
            result |= (v & 0x7F) << shift
            if not v & 0x80:
                return result
            shift += 7

    def zigzag(self):
        v = self.varint()
        return (v >> 1) ^ -(v & 1)

    def value(self, t):
        if t in (1, 2):
            return t == 1
        if t == 3:
            return self.byte()
        if t in (4, 5, 6):
            return self.zigzag()
        if t == 7:
            self.p += 8
            return None
        if t == 8:
            n = self.varint()
            self.p += n
            return None
        if t in (9, 10):
            h = self.byte()
            n, et = h >> 4, h & 0x0F
            if n == 15:
                n = self.varint()
            return [self.byte() == 1 if et in (1, 2) else self.value(et) for _ in range(n)]
        if t == 11:
            n = self.varint()
            if n:
                kv = self.byte()
                for _ in range(n):
                    self.value(kv >> 4)
                    self.value(kv & 0x0F)
            return None
        if t == 12:
            return self.struct()
        raise ValueError("thrift type %d at %d" % (t, self.p))

    def struct(self):
        fields, last = {}, 0
        while True:
            h = self.byte()
            if h == 0:
                return fields
            delta, t = h >> 4, h & 0x0F
            fid = last + delta if delta else self.zigzag()
            fields[fid] = self.value(t)
            last = fid


PAGE_TYPES = {0: "DATA_PAGE", 1: "INDEX_PAGE", 2: "DICTIONARY_PAGE", 3: "DATA_PAGE_V2"}
ENCODINGS = {0: "PLAIN", 2: "PLAIN_DICTIONARY", 3: "RLE", 4: "BIT_PACKED", 5: "DELTA_BINARY_PACKED",
             6: "DELTA_LENGTH_BYTE_ARRAY", 7: "DELTA_BYTE_ARRAY", 8: "RLE_DICTIONARY", 9: "BYTE_STREAM_SPLIT"}


def pages(buf, col):
    """(page type, value encoding) of every page of a column chunk."""
    start = col.dictionary_page_offset if col.has_dictionary_page else col.data_page_offset
    end, pos, out = start + col.total_compressed_size, start, []
    while pos < end:
        c = Compact(buf, pos)
        h = c.struct()
        ptype = PAGE_TYPES.get(h[1], str(h[1]))
        # data_page_header (5), dictionary_page_header (7), data_page_header_v2 (8): encoding is field 2 of the first two, 4 of v2
        enc = (h.get(5) or {}).get(2, (h.get(7) or {}).get(2, (h.get(8) or {}).get(4)))
        out.append([ptype, ENCODINGS.get(enc, str(enc))])
        pos = c.p + h[3]  # compressed_page_size
    return out


def arrow_file(path):
    import pyarrow.parquet as pq
    pf = pq.ParquetFile(path)
    md = pf.metadata
    with open(path, "rb") as f:
        buf = f.read()
    columns = []
    for rg in range(md.num_row_groups):
        for i in range(md.num_columns):
            col = md.row_group(rg).column(i)
            columns.append({"row_group": rg, "column": col.path_in_schema, "encodings": list(col.encodings),
                            "compression": col.compression, "pages": pages(buf, col)})
    kv = {k.decode(): v.decode() for k, v in (md.metadata or {}).items()}
    return {"file": os.path.basename(path), "rows": md.num_rows, "read_rows": pf.read().num_rows,
            "created_by": md.created_by, "format_version": md.format_version,
            "arrow_schema": str(pf.schema_arrow), "metadata": kv, "columns": columns}


def spark_rows(df, kind):
    out = []
    for r in df.collect():
        if kind == "features":
            out.append({"path": r["path"], "label": r["label"], "label_index": r["label_index"],
                        "features": bits(r["features"])})
        else:
            out.append({"path": r["path"], "label": r["label"], "prediction": r["prediction"],
                        "prediction_index": r["prediction_index"], "probability": bits([r["probability"]])[0],
                        "top_k": [[t["index"], t["label"], bits([t["probability"]])[0]] for t in r["top_k"]]})
    return out


def main():
    req = json.load(open(sys.argv[1]))
    res = {"tables": [], "timings": {}}
    t0 = time.time()
    import duckdb
    from pyspark.sql import SparkSession
    spark = (SparkSession.builder.master("local[2]").appName("featurizer-clients-test")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", "2")
             .config("spark.driver.memory", "1g")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    res["spark_version"] = spark.version
    res["timings"]["spark_start_s"] = time.time() - t0
    t1 = time.time()
    for t in req["tables"]:
        table, kind = t["path"], t["kind"]
        out = {"path": table, "spark": {}}
        for vec in ("true", "false"):
            spark.conf.set("spark.sql.parquet.enableVectorizedReader", vec)
            df = spark.read.parquet(table)
            plan = df._jdf.queryExecution().executedPlan().toString()
            out["spark"][vec] = {"schema": df.schema.jsonValue(), "count": df.count(),
                                 "batched": "Batched: true" in plan, "rows": spark_rows(df, kind)}
        data, rejects = data_files(table)
        out["arrow"] = [arrow_file(p) for p in data]
        out["arrow_rejects"] = [arrow_file(p) for p in rejects]
        con = duckdb.connect()
        glob = os.path.join(table, "*.parquet")
        out["duckdb"] = {"count": con.execute("SELECT count(*) FROM read_parquet(?)", [glob]).fetchone()[0],
                         "paths": sorted(r[0] for r in con.execute("SELECT path FROM read_parquet(?)", [glob]).fetchall())}
        if kind == "features":
            out["duckdb"]["features"] = {r[0]: bits(r[1]) for r in
                                         con.execute("SELECT path, features FROM read_parquet(?)", [glob]).fetchall()}
        con.close()
        res["tables"].append(out)
    res["timings"]["tables_s"] = time.time() - t1
    ml = req.get("spark_ml")
    if ml:
        # The README's sample, as written, in this process: its
        # SparkSession.builder.getOrCreate() takes the session above.
        t2 = time.time()
        scope = {"__name__": "__main__"}
        exec(compile(ml["code"], "README.md (Spark ML sample)", "exec"), scope)
        from pyspark.sql import DataFrame
        res["spark_ml"] = {k: (v.count() if isinstance(v, DataFrame) else v)
                           for k, v in scope.items() if k in ml.get("export", [])}
        res["timings"]["spark_ml_s"] = time.time() - t2
    with open(sys.argv[2], "w") as f:
        json.dump(res, f)
    spark.stop()


if __name__ == "__main__":
    main()
