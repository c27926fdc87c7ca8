"""Policy: the policy file model (catalogue, lists, scores, sharing), its compilation for the
batch engines, evaluation and the what-if."""
