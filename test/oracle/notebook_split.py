"""Runs the authors' calculate_consistency_breakdown (consistency_all.cells.py, second part) on a
folder of their output files and prints its result as JSON. Only that part of the notebook file
is executed (its plotting imports are replaced by stand-ins)."""
import json
import sys
import types

for name in ["matplotlib", "matplotlib.pyplot", "matplotlib.patches"]:
    module = types.ModuleType(name)
    module.Patch = object
    module.rcParams = {}
    sys.modules[name] = module
sys.modules["matplotlib"].pyplot = sys.modules["matplotlib.pyplot"]

source = open(sys.argv[1] + "/consistency_all.cells.py", encoding="utf-8").read()
second_part = source[source.index("import os", source.index("def main(folder_path)")):]
second_part = second_part[: second_part.index("def main(folder_path)")]
scope = {}
exec(compile(second_part, "consistency_all.cells.py", "exec"), scope)
result = scope["calculate_consistency_breakdown"](sys.argv[2])
print(json.dumps({k: {c: v["mean"] for c, v in cats.items()} for k, cats in result.items()}, sort_keys=True))
