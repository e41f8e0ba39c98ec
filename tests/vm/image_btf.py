#!/usr/bin/python3
"""Copies the BTF of a kernel image out of it, as a raw BTF file.

    image_btf.py IMAGE OUT

Debian's arm64 kernel packages ship only the Image (no ELF vmlinux), but
the Image holds .BTF verbatim: a header (magic 0xeB9F, version 1, 24 bytes)
followed by the type and string sections. The largest such blob is the
kernel's. `bpftool btf dump file OUT format c` then gives vmlinux.h (make
vmlinux VMLINUX_BTF=OUT ARCH=aarch64).
"""
import struct
import sys

HEADER = b"\x9f\xeb\x01\x00\x18\x00\x00\x00"  # magic, version 1, flags 0, hdr_len 24


def main():
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    best = None
    at = data.find(HEADER)
    while at >= 0:
        type_off, type_len, str_off, str_len = struct.unpack_from("<IIII", data, at + 8)
        end = at + 24 + type_len + str_len
        if type_off == 0 and str_off == type_len and end <= len(data) and \
                (best is None or type_len > best[1] - best[0]):
            best = (at, end)
        at = data.find(HEADER, at + 1)
    if best is None:
        sys.stderr.write("image_btf: no BTF in %s (compressed? CONFIG_DEBUG_INFO_BTF?)\n"
                         % sys.argv[1])
        return 1
    with open(sys.argv[2], "wb") as f:
        f.write(data[best[0]:best[1]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
