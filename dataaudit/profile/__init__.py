"""One pass per split into mergeable statistics (counts, hashes, moments, samples)."""

from dataaudit.profile.dataset import DatasetStats, profile_dataset
from dataaudit.profile.split import SplitStats

__all__ = ["DatasetStats", "SplitStats", "profile_dataset"]
