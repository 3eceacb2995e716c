"""Crafted hostile dataset files, generated here (no binaries committed).

Shared by ``tests/datasets/test_hostile_files.py`` and ``benchmarks/hostile_files.py``. Each
entry is ``(id, bytes, fragment)``: the loader must refuse the bytes with a one-line
``DatasetError`` containing ``fragment``. These are fixtures written for the tests, not
downloads.
"""

from __future__ import annotations

import json
import pickle
import struct


def _u4(n: int) -> bytes:
    return struct.pack("<I", n)


def _u8(n: int) -> bytes:
    return struct.pack("<Q", n)


def _doubling_tuples(levels: int) -> bytes:
    """A string, then ``levels`` times: DUP and TUPLE2 (each level twice the last, written out)."""
    return b"\x80\x02X" + _u4(100) + b"x" * 100 + b"2\x86" * levels + b"."


def _doubling_lists_late_fill(levels: int) -> bytes:
    """Empty lists L0..Ln memoised, then filled top-down: Ln = [Ln-1, Ln-1], ... (the late
    mutation hides the doubling from a per-append count)."""
    out = [b"\x80\x02"]
    for i in range(levels + 1):
        out.append(b"]q" + bytes([i]) + b"0")  # EMPTY_LIST, BINPUT i, POP
    for i in range(levels, 0, -1):
        out.append(b"h" + bytes([i]) + b"(h" + bytes([i - 1]) + b"h" + bytes([i - 1]) + b"e0")
    out.append(b"h" + bytes([0]) + b"X" + _u4(50) + b"y" * 50 + b"a0h" + bytes([levels]) + b".")
    return b"".join(out)


def _refs(drop: str = "", **changes: object) -> bytes:
    ref: dict[str, object] = {
        "ref_id": 1,
        "ann_id": 1,
        "image_id": 1,
        "split": "val",
        "category_id": 1,
        "sentences": [{"sent_id": 1, "sent": "the cup"}],
    }
    ref.update(changes)
    ref.pop(drop, None)
    return pickle.dumps([ref], protocol=2)


def _shared_split() -> bytes:
    """A ref whose split is 60 levels of shared lists: str() of it would never end."""
    node: object = "x"
    for _ in range(60):
        node = [node, node]
    return pickle.dumps([{"ann_id": 1, "image_id": 1, "split": node, "sentences": []}], protocol=2)


# (id, bytes, fragment of the one-line error)
PICKLES: list[tuple[str, bytes, str]] = [
    # a global naming os.system, called by REDUCE
    ("global-os-system", b"cos\nsystem\n(S'touch TRAP'\ntR.", "refused os.system"),
    # protocol 4 STACK_GLOBAL
    ("stack-global", b"\x80\x04\x8c\x02os\x8c\x06system\x93.", "refused"),
    # BUILD on a dict (was AttributeError)
    ("build-on-dict", b"\x80\x02}}b.", "refused BUILD"),
    # BUILD on a list
    ("build-on-list", b"\x80\x02]}b.", "refused BUILD"),
    # REDUCE on plain data
    ("reduce-plain", b"\x80\x02])R.", "refused REDUCE"),
    # INST, OBJ and NEWOBJ
    ("inst", b"(i__builtin__\nlist\n.", "refused INST"),
    ("obj", b"\x80\x02(]o.", "refused OBJ"),
    ("newobj", b"\x80\x02])\x81.", "refused NEWOBJ"),
    # persistent references
    ("persid", b"P1\n.", "persistent reference"),
    ("binpersid", b"\x80\x02]Q.", "persistent reference"),
    # extension registry
    ("ext1", b"\x80\x02\x82\x01.", "extension-registry"),
    # protocol 5 out-of-band buffer
    ("next-buffer", b"\x80\x05\x97.", "out-of-band buffer"),
    # an opcode that does not exist
    ("unknown-opcode", b"\x80\x02\xff.", "unknown opcode 0xff at byte 2"),
    # memo index 2**28 (a 9-byte file that took 4.1 GB in the C unpickler)
    ("memo-2-28", b"\x80\x02]r" + _u4(1 << 28) + b".", "memo index 268,435,456"),
    # memo index 2**29 by the text PUT opcode
    ("memo-2-29-text", b"]p536870912\n.", "memo index 536,870,912"),
    # a memo index that was never set
    ("get-missing", b"\x80\x02h\x05.", "Memo value not found"),
    # a string of 2 GB in a 10-byte file
    ("binunicode-2g", b"\x80\x02X" + _u4(1 << 31) + b".", "a string of 2,147,483,648 bytes"),
    # an 8-byte string length of 2**60
    ("binunicode8-huge", b"\x80\x04\x8d" + _u8(1 << 60) + b".", "a string of"),
    # bytes of 2**40
    ("binbytes8-huge", b"\x80\x04\x8e" + _u8(1 << 40) + b".", "a bytes object of"),
    # a negative Python 2 string length
    ("binstring-negative", b"T\xff\xff\xff\xff.", "negative length"),
    # an integer of 256 MB
    ("long4-huge", b"\x80\x02\x8b" + _u4(1 << 28) + b".", "an integer of"),
    # a frame of 2**40 bytes
    ("frame-huge", b"\x80\x04\x95" + _u8(1 << 40) + b"N.", "a frame of"),
    # 10,000 nested lists (was RecursionError downstream)
    ("nested-lists", b"\x80\x02" + b"]" * 10_000 + b"a" * 9_999 + b".", "nested more than 100 deep"),
    # 1,000 nested tuples
    ("nested-tuples", b"\x80\x02N" + b"\x85" * 1_000 + b".", "nested more than 100 deep"),
    # 100,000 open marks
    ("nested-marks", b"(" * 100_000 + b".", "marks nested more than 100 deep"),
    # shared tuples doubling 60 times (2**60 x 100 characters written out)
    ("doubling-tuples", _doubling_tuples(60), "expand to over"),
    # shared lists doubling, filled after being placed (the 813-byte hang)
    ("doubling-lists-late", _doubling_lists_late_fill(60), "changes a container after putting it"),
    # a list that holds itself
    ("self-holding-list", b"\x80\x02]q\x00h\x00a.", "holds itself"),
    # APPENDS on a dict (a wrong-shaped stack: was AttributeError)
    ("appends-on-dict", b"\x80\x02}(Ne.", "adds items to a dict, not a list"),
    # SETITEMS on a list (was TypeError)
    ("setitems-on-list", b"\x80\x02](NNu.", "adds items to a list, not a dict"),
    # a list as a dict key
    ("unhashable-key", b"\x80\x02}]Ns.", "unhashable"),
    # a dict with a key and no value
    ("dict-odd-items", b"\x80\x02(Nd.", "a key and no value"),
    # STOP with an empty stack
    ("stop-empty", b".", "not a plain-data pickle"),
    # POP_MARK without a mark
    ("pop-mark-unopened", b"1.", "not a plain-data pickle"),
    # an integer of 5,000 decimal digits
    ("long-text-digits", b"L" + b"9" * 5_000 + b"L\n.", "not a plain-data pickle"),
    # the file stops in the middle
    ("truncated", pickle.dumps([{"sent": "a cup " * 20}], protocol=2)[:-7], "not a plain-data pickle"),
    # an empty file
    ("empty", b"", "not a plain-data pickle"),
    # JSON, not a pickle
    ("json-text", b'[{"ref_id": 1}]', "not a plain-data pickle (UnpicklingError: unknown opcode 0x5b"),
]

# Valid pickles of the wrong shape for a refs file: (id, bytes, fragment)
WRONG_REFS: list[tuple[str, bytes, str]] = [
    # a dict, not a list of refs
    ("top-level-dict", pickle.dumps({"refs": []}, protocol=2), "top level is a dict, not a list"),
    # a list of numbers
    ("list-of-ints", pickle.dumps([1, 2, 3], protocol=2), "ref 0 is an int, not an object"),
    # a ref without its annotation id (was KeyError)
    ("no-ann-id", _refs(drop="ann_id"), "ref 0 has no 'ann_id'"),
    # an annotation id that is a list (was TypeError: unhashable)
    ("ann-id-list", _refs(ann_id=[1]), "ref 0 has an id that is a list"),
    # sentences that are a string
    ("sentences-text", _refs(sentences="the cup"), "ref 0 sentences is a str, not a list"),
    # a sentence whose text is a list
    ("sent-list", _refs(sentences=[{"sent_id": 1, "sent": ["a"]}]), "sentence 0 sent is a list"),
    # a split that is 60 levels of shared lists (str() of it would never end): refused on load
    ("shared-split", _shared_split(), "expand to over"),
    # a split that is a list
    ("split-list", _refs(split=["val"]), "ref 0 split is a list, not text"),
    # a sentence id of 2,000 digits
    ("huge-sent-id", _refs(sentences=[{"sent_id": "9" * 2000}]), "has an id that is a str"),
]

# Wrong-shaped instances.json, ScreenSpot and jsonl files: (id, kind, text, fragment)
_GOOD_IMAGE = {"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}
_GOOD_ANN = {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]}
WRONG_JSON: list[tuple[str, str, str, str]] = [
    # instances: a list at the top level
    ("instances-list", "instances", "[]", "top level is a list, not an object"),
    # instances: annotations is a dict
    ("instances-annotations-dict", "instances", '{"annotations": {}}', "'annotations' is a dict"),
    # instances: an annotation without a bbox (was KeyError)
    ("instances-no-bbox", "instances", json.dumps({"annotations": [{"id": 1, "image_id": 1}]}), "annotation 0 has no 'bbox'"),
    # instances: a NaN bbox (was a silent NaN box)
    ("instances-nan-bbox", "instances", json.dumps({"annotations": [{**_GOOD_ANN, "bbox": [1, 1, float("nan"), 2]}]}), "bbox that is not 4 finite numbers"),
    # instances: an annotation id that is a list (was TypeError: unhashable)
    ("instances-list-id", "instances", json.dumps({"annotations": [{**_GOOD_ANN, "id": [1]}]}), "has an id that is a list"),
    # instances: two annotations with one id
    ("instances-repeated-id", "instances", json.dumps({"annotations": [_GOOD_ANN, _GOOD_ANN]}), "repeats the id 1"),
    # instances: an image of width 0
    ("instances-zero-width", "instances", json.dumps({"images": [{**_GOOD_IMAGE, "width": 0}]}), "image size of 0x10"),
    # instances: a category name that is a number
    ("instances-category-number", "instances", json.dumps({"categories": [{"id": 1, "name": 5}]}), "category 0 name is an int"),
    # instances: JSON nested 100,000 deep (was RecursionError)
    ("instances-deep", "instances", "[" * 100_000, "nested too deep"),
    # instances: not JSON
    ("instances-not-json", "instances", "{'a': 1}", "not valid JSON"),
    # ScreenSpot: an object, not a list
    ("screenspot-object", "screenspot", "{}", "top level is a dict, not a list"),
    # ScreenSpot: a row that is a string
    ("screenspot-row-text", "screenspot", '["abc"]', "entry 0 is a str, not an object"),
    # ScreenSpot: a bbox of three numbers
    ("screenspot-short-bbox", "screenspot", '[{"img_filename": "a.png", "instruction": "x", "bbox": [1, 2, 3]}]', "bbox that is not 4 finite"),
    # ScreenSpot: an Infinity in the bbox
    ("screenspot-inf-bbox", "screenspot", '[{"img_filename": "a.png", "instruction": "x", "bbox": [1, 2, 3, Infinity]}]', "bbox that is not 4 finite"),
    # ScreenSpot Pro: an img_size of one number
    ("screenspot-img-size", "screenspot", '[{"img_filename": "a.png", "instruction": "x", "bbox": [1, 2, 3, 4], "img_size": [5]}]', "img_size that is not [width, height]"),
    # ScreenSpot: no instruction
    ("screenspot-no-instruction", "screenspot", '[{"img_filename": "a.png", "bbox": [1, 2, 3, 4]}]', "entry 0 has no 'instruction'"),
    # jsonl: a line that is a list
    ("jsonl-list", "jsonl", "[1, 2]\n", "line 1 is a list, not an object"),
    # jsonl: a NaN box
    ("jsonl-nan", "jsonl", '{"image": "a.jpg", "sent": "x", "bbox": [NaN, 1, 2, 3]}\n', "bbox that is not 4 finite"),
    # jsonl: a width too big for a float (was OverflowError)
    ("jsonl-huge-width", "jsonl", '{"image": "a.jpg", "sent": "x", "bbox": [0, 1, 2, 3], "width": 1e400, "height": 5}\n', "width is not a finite number"),
    # jsonl: an image name that is a number
    ("jsonl-image-number", "jsonl", '{"image": 5, "sent": "x", "bbox": [0, 1, 2, 3]}\n', "line 1 image is an int, not text"),
    # jsonl: a line nested 100,000 deep (was RecursionError)
    ("jsonl-deep", "jsonl", "[" * 100_000 + "\n", "nested too deep"),
    # jsonl: not UTF-8
    ("jsonl-latin1", "jsonl", "\udcff", "not UTF-8 text"),
]
