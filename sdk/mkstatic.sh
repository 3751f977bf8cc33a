#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# mkstatic.sh OUT.a SYMBOLS LD OBJCOPY AR PART.a...
# libtern.a as one relocatable object: the parts linked together (ld -r), every
# global symbol not in SYMBOLS made local (so nm shows the API and nothing
# else, and no internal name can clash with an application's), in an archive.
# One object also means a program that uses any function gets every
# transport's constructor: static linking needs no --whole-archive.
set -eu
out=$1 syms=$2 ld=$3 objcopy=$4 ar=$5
shift 5
obj=$out.o
"$ld" -r -o "$obj" --whole-archive "$@" --no-whole-archive
"$objcopy" --keep-global-symbols="$syms" "$obj"
rm -f "$out"
"$ar" rcs "$out" "$obj"
rm -f "$obj"
