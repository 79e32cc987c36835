#!/usr/bin/env python3
"""make_seeds.py - writes tests/fuzz/seeds/ (committed; the fuzzers never regenerate them).

Usage: python3 tests/fuzz/make_seeds.py EXPORTED OUT
EXPORTED holds what the harnesses wrote with GD_FUZZ_SEED_OUT=EXPORTED/<name> (a saved
condition and cluster model, a training state, configs, the PNGs the csv harness makes); the
rest is written here by hand: small valid files of each format, one feature per file (dtypes,
header versions, PNG colour types), so the fuzzers start from every branch a valid file takes.
Standard library only."""
import gzip, json, os, shutil, struct, sys, zlib

exp, out = sys.argv[1], sys.argv[2]


def put(name, data):
    os.makedirs(os.path.dirname(os.path.join(out, name)), exist_ok=True)
    with open(os.path.join(out, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def get(rel):
    with open(os.path.join(exp, rel), "rb") as f:
        return f.read()


# ---- safetensors: every dtype, metadata, an empty tensor, a 0-d tensor ----
def st(tensors, meta=None):
    hdr, blob = {}, b""
    for name, dtype, shape, raw in tensors:
        hdr[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(raw)]}
        blob += raw
    if meta:
        hdr["__metadata__"] = meta
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob


put("safetensors/dtypes.safetensors", st([
    ("f32", "F32", [2, 2], struct.pack("<4f", 1, -2, 0.5, 3e38)),
    ("f16", "F16", [3], struct.pack("<3H", 0x3c00, 0x0001, 0x7c00)),
    ("bf16", "BF16", [2], struct.pack("<2H", 0x3f80, 0xff80)),
    ("f64", "F64", [1, 2], struct.pack("<2d", 1e300, -0.25)),
    ("i64", "I64", [2], struct.pack("<2q", -5, 1 << 40)),
    ("i32", "I32", [], struct.pack("<i", 7)),
    ("empty", "F32", [0, 4], b""),
], {"format": "gmmdiff-state", "version": "1", "step": "3"}))
put("safetensors/condition.safetensors", get("condition/condition.safetensors"))
put("safetensors/cluster.safetensors", get("condition/cluster.safetensors"))
shutil.copy("tests/fixtures/unet/gd_saved/io.safetensors", os.path.join(out, "safetensors/io.safetensors"))


# ---- png: what gd_png_read converts (grey 1/2/4/8/16 bit, grey+alpha, RGB, RGBA, palette,
# interlaced), each 3x2 ----
def png(ct, bd, rows, plte=None, trns=None, interlace=0):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    w = 3
    ihdr = struct.pack(">IIBBBBB", w, len(rows), bd, ct, 0, 0, interlace)
    raw = b"".join(b"\0" + r for r in rows)
    if interlace:  # Adam7 (8-bit only here): each pass's pixels, row by row
        bpp = len(rows[0]) // w
        raw = b""
        for x0, y0, dx, dy in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
                               (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]:
            for y in range(y0, len(rows), dy):
                px = [rows[y][x * bpp:(x + 1) * bpp] for x in range(x0, w, dx)]
                if px:
                    raw += b"\0" + b"".join(px)
    s = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    if plte:
        s += chunk(b"PLTE", plte)
    if trns:
        s += chunk(b"tRNS", trns)
    return s + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


put("png/grey8.png", png(0, 8, [bytes([0, 128, 255]), bytes([10, 20, 30])]))
put("png/grey1.png", png(0, 1, [b"\xa0", b"\x40"]))
put("png/grey4.png", png(0, 4, [b"\x0f\x80", b"\x12\x30"]))
put("png/grey16.png", png(0, 16, [struct.pack(">3H", 0, 40000, 65535)] * 2))
put("png/greyalpha.png", png(4, 8, [bytes([0, 255, 128, 0, 255, 9])] * 2))
put("png/rgb.png", png(2, 8, [bytes(range(9)), bytes(range(100, 109))]))
put("png/rgba16.png", png(6, 16, [bytes(range(24)), bytes(range(24, 48))]))
put("png/palette.png", png(3, 8, [bytes([0, 1, 2]), bytes([2, 1, 0])],
                           plte=bytes([255, 0, 0, 0, 255, 0, 0, 0, 255]), trns=b"\x80"))
put("png/interlaced.png", png(2, 8, [bytes(range(9))] * 2, interlace=1))
put("png/grid_grey.png", get("csv/grey.png"))
put("png/grid_rgb.png", get("csv/rgb.png"))

# ---- idx: first byte 1: images file (bits 1-2: limit), 0: labels file; plain and gzipped ----
img = struct.pack(">IIII", 2051, 3, 28, 28) + bytes((i * 7) & 255 for i in range(16, 16 + 3 * 784))
lab = struct.pack(">II", 2049, 3) + bytes([0, 3, 6])
put("idx/images", b"\x01" + img)
put("idx/images_limit2.gz", b"\x05" + gzip.compress(img, mtime=0))
put("idx/labels", b"\x00" + lab)
put("idx/labels.gz", b"\x02" + gzip.compress(lab, mtime=0))

# ---- csv: attributes.csv beside grey.png, rgb.png (8x8) and big.png (12x12) ----
put("csv/categorical.csv", "file,shape,size\ngrey.png,circle,small\nrgb.png,square,large\n")
put("csv/continuous.csv", "file, ink ,width\r\ngrey.png,0.25,3\n\nrgb.png,1e-3,-4.5\n")
put("csv/class.csv", "file,class,colour\ngrey.png,0,red\nrgb.png,7,blue\ngrey.png,3,red\n")
put("csv/size_mismatch.csv", "file,a\ngrey.png,x\nbig.png,y\n")

# ---- matrix: .npy (v1, v2, every dtype) and CSV ----
def npy(descr, shape, raw, version=1):
    h = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        descr, "".join("%d, " % s for s in shape) if len(shape) != 1 else "%d," % shape[0])
    pre = 10 if version == 1 else 12
    h += " " * (-(pre + len(h) + 1) % 64) + "\n"
    ln = struct.pack("<H", len(h)) if version == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([version, 0]) + ln + h.encode() + raw


put("matrix/f4_2d.npy", npy("<f4", [3, 2], struct.pack("<6f", 1, 2, 3, 4.5, -1, 0)))
put("matrix/f8_1d.npy", npy("<f8", [4], struct.pack("<4d", 1, 2, 3, 4)))
put("matrix/i8_v2.npy", npy("<i8", [2, 2], struct.pack("<4q", 1, -2, 3, 4), version=2))
put("matrix/i4.npy", npy("<i4", [2, 1], struct.pack("<2i", 5, 6)))
put("matrix/u1_v3.npy", npy("|u1", [2, 3], bytes(range(6)), version=3))
put("matrix/points.csv", "1.5, 2\n-3e2,4\n\n 0.1 ,\t7\n")

# ---- config: one valid file per reader (exported), and the MLP fixtures ----
for n in ["unet_config.json", "scheduler_config.json", "classifier_config.json",
          "mlp_config.json", "run.json"]:
    put("config/" + n, get("config/" + n))
put("config/mlp_class.json", open("tests/fixtures/mlp/class/config.json").read())
put("config/unet_attn_class.json", open("tests/fixtures/unet/attn_class/config.json").read())
ngmg = json.loads(get("config/classifier_config.json"))
ngmg.update(loss="ngmg", ngmg={"s_min": 0.5, "s_max": 8, "widths": 5})
put("config/classifier_ngmg.json", json.dumps(ngmg))


# ---- gmm: one model of each covariance type, 2 components in 2 dimensions ----
def gmm(cov, covs):
    return json.dumps({"format": "gmmdiff-gmm", "version": 1, "covariance_type": cov,
                       "n_components": 2, "n_features": 2, "weights": [0.25, 0.75],
                       "means": [[0, 1], [-2, 3.5]], "covariances": covs, "converged": True,
                       "n_iter": 4, "lower_bound": -1.5, "reg_covar": 1e-6}, indent=1)


put("gmm/full.json", gmm("full", [[[1, 0.5], [0.5, 2]], [[1, 0], [0, 1]]]))
put("gmm/tied.json", gmm("tied", [[2, -0.3], [-0.3, 1]]))
put("gmm/diag.json", gmm("diag", [[1, 2], [0.5, 0.25]]))
put("gmm/spherical.json", gmm("spherical", [1, 0.5]))
put("gmm/cluster_gmm.json", get("condition/cluster_gmm.json"))

# ---- condition: first byte 0 condition.json, 1 condition.safetensors, 2 cluster_gmm.json,
# 3 cluster.safetensors ----
for k, n in enumerate(["condition.json", "condition.safetensors", "cluster_gmm.json",
                       "cluster.safetensors"]):
    put("condition/" + n, bytes([k]) + get("condition/" + n))

# ---- state: a real training state ----
put("state/state.safetensors", get("state/state.safetensors"))

# ---- features: --features strings and classifier values ----
for i, s in enumerate(["shape=circle,size=large,ink=0.3",
                       "shape=triangle,size=small,position=top_left,intensity=dim",
                       "ink=-1e5, shape=square", "size=large,size=small", "position="]):
    put("features/%d.txt" % i, s)
