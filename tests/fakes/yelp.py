"""Fake Yelp Open Dataset: the review, user and business JSON-lines files in the real shape."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

_CATEGORIES = ["Restaurants", "Mexican", "Coffee & Tea", "Bars", "Nightlife", "Doctors",
               "Traditional Chinese Medicine", "Shopping"]
_CITIES = ["Philadelphia", "Tucson", "Tampa", "Indianapolis", "Nashville"]


def _id(rng: np.random.Generator) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), 22))


def _date(rng: np.random.Generator) -> str:
    return (f"{rng.integers(2005, 2022)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d} "
            f"{rng.integers(0, 24):02d}:{rng.integers(0, 60):02d}:{rng.integers(0, 60):02d}")


def write_yelp(directory: str | Path, n_users: int, n_items: int, n_reviews: int, seed: int = 0) -> Path:
    """Write ``yelp_academic_dataset_{review,user,business}.json`` into ``directory``.

    Every user and business appears in the user/business files; reviews draw them at random.
    """
    rng = np.random.default_rng(seed)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    users = [_id(rng) for _ in range(n_users)]
    items = [_id(rng) for _ in range(n_items)]
    _write(directory / "yelp_academic_dataset_user.json", [{
        "user_id": u, "name": f"Name {k}", "review_count": int(rng.integers(0, 2000)),
        "yelping_since": _date(rng), "useful": int(rng.integers(0, 100)), "funny": 0, "cool": 1,
        "elite": "2015,2016,2017" if k % 3 == 0 else "", "friends": ", ".join(users[:3]) if k % 2 else "None",
        "fans": int(rng.integers(0, 300)), "average_stars": round(float(rng.uniform(1, 5)), 2),
        "compliment_hot": 0, "compliment_more": 0,
    } for k, u in enumerate(users)])
    _write(directory / "yelp_academic_dataset_business.json", [{
        "business_id": b, "name": f"Business {k}", "address": f"{k} Main St", "city": _CITIES[k % len(_CITIES)],
        "state": "PA", "postal_code": "19107", "latitude": 39.95, "longitude": -75.16,
        "stars": float(rng.integers(2, 11)) / 2, "review_count": int(rng.integers(5, 5000)), "is_open": 1,
        "attributes": {"RestaurantsTakeOut": "True", "WiFi": "u'free'"} if k % 2 else None,
        "categories": ", ".join(_CATEGORIES[i] for i in rng.choice(len(_CATEGORIES), 1 + k % 3, replace=False))
        if k % 4 else None,
        "hours": {"Monday": "8:0-22:0"},
    } for k, b in enumerate(items)])
    _write(directory / "yelp_academic_dataset_review.json", [{
        "review_id": _id(rng), "user_id": users[rng.integers(n_users)], "business_id": items[rng.integers(n_items)],
        "stars": float(rng.integers(1, 6)), "useful": int(rng.integers(0, 5)), "funny": 0, "cool": 0,
        "text": "Great tacos.\nWould come back, \"really\".", "date": _date(rng),
    } for _ in range(n_reviews)])
    return directory


def _write(path: Path, records: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record) + "\n")
