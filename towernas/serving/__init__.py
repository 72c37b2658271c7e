"""Serving a trained two-tower model: export a self-contained retriever artifact, load it, recommend.

- ``export_retriever(model, data, directory, index="flat" | "ivf" | "hnsw")`` writes the user tower
  (``torch.export``), item embeddings, a faiss index (with its recall vs exact search) and meta.json.
- ``Cascade.load(directory).recommend(user, history, k)``: a retriever artifact followed by ranker stages
  (``towernas.serving.cascade``; written by ``python -m towernas.cascade``).
- ``Retriever.load(directory).recommend(user, history, k, exclude=...)`` returns raw item ids and
  scores, loading only safe formats (JSON, ``.npy``/``.npz`` without pickles, the exported program,
  the faiss index) after checking every file's sha256.

``Retriever`` here is the serving class (raw ids in and out); ``towernas.eval.Retriever`` is the
exact evaluation retriever over item indices.
"""

from towernas.serving.retriever import ArtifactError, ColdUserError, ServingRetriever

Retriever = ServingRetriever


def __getattr__(name: str):
    # the export side needs the training-time modules (data, batches); import it only when asked,
    # so `from towernas.serving import Retriever` stays free of them
    if name in ("export_retriever", "export_user_tower", "UserTowerProgram"):
        from towernas.serving import export

        return getattr(export, name)
    if name == "export_cascade":  # written by the cascade package; served here
        from towernas.cascade.export import export_cascade

        return export_cascade
    if name in ("Cascade", "ServingCascade"):  # a retriever artifact + ranker weights
        from towernas.serving import cascade

        return getattr(cascade, "ServingCascade" if name == "Cascade" else name)
    raise AttributeError(f"module 'towernas.serving' has no attribute {name!r}")


__all__ = ["ArtifactError", "ColdUserError", "Cascade", "Retriever", "ServingCascade", "ServingRetriever", "export_cascade",
           "export_retriever"]
