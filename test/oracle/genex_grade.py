"""Grades replies with the paper authors' own functions, as their MedCalc runs did.

Usage: python3 genex_grade.py <genex-code dir> <test_data.csv>  (JSONL on stdin, JSONL on stdout)
Input lines: {"id": row number, "reply": generated text, "model": optional model name}.
Output lines: {"id", "recorded", "correct"}: "recorded" is what run.py would write as "LLM Answer"
(the extracted value, or the exception text when extraction or grading crashed).

Their code is imported, not copied: run.py's extract_answer, evaluate.py's check_correctness and
llm_inference.py's LLMInference.answer (which collapses whitespace). Modules they import that are
not needed for these functions (torch, transformers, pandas, ...) are replaced by empty stand-ins.
"""
import csv
import json
import sys
import types


def stub(name, **attrs):
    module = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(module, key, value)
    sys.modules[name] = module
    return module


class _Anything:
    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return self

    def __getattr__(self, name):
        return _Anything()


for name in ["torch", "transformers", "openai", "tiktoken", "tqdm", "pandas", "table_stats", "huggingface_hub"]:
    if name not in sys.modules:
        try:
            __import__(name)
        except ImportError:
            stub(
                name,
                manual_seed=lambda *a, **k: None,
                login=lambda *a, **k: None,
                AutoTokenizer=_Anything(),
                StoppingCriteria=object,
                StoppingCriteriaList=_Anything(),
                pipeline=_Anything(),
                bfloat16=None,
                float16=None,
                compute_overall_accuracy=lambda *a, **k: None,
                LongTensor=object,
                FloatTensor=object,
            )

sys.path.insert(0, sys.argv[1])
import llm_inference  # noqa: E402
import run  # noqa: E402
from evaluate import check_correctness  # noqa: E402


def collapse(text):
    """The text as run.py saw it: LLMInference.answer's own whitespace collapse."""
    llm = llm_inference.LLMInference.__new__(llm_inference.LLMInference)
    llm.generate = lambda messages, do_sample=False: text
    return llm.answer([])


def main():
    rows = {r["Row Number"]: r for r in csv.DictReader(open(sys.argv[2], newline="", encoding="utf-8"))}
    import io, contextlib

    for line in sys.stdin:
        if not line.strip():
            continue
        item = json.loads(line)
        row = rows[str(item["id"])]
        model = item.get("model") or "qwen"
        calculator_id = str(row["Calculator ID"])
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink):
            try:
                answer_value, _ = run.extract_answer(collapse(item["reply"]), int(calculator_id), model)
                correctness = check_correctness(answer_value, row["Ground Truth Answer"], calculator_id, row["Upper Limit"], row["Lower Limit"])
                recorded, correct = answer_value, bool(correctness)
            except Exception as e:  # as run.py's main loop does
                recorded, correct = str(e), False
        print(json.dumps({"id": item["id"], "recorded": recorded, "correct": correct}, ensure_ascii=False))


main()
