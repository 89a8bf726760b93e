"""Reading Amazon product feeds: robust CSV records (``reader``), the known layouts and
how their rows become products (``layouts``), the 2023 category name → department table
(``departments``) and value parsing (``parsing``: prices, weights, ASINs).

Nothing here touches the database; ``catalog.services.feed_import`` writes what this
package reads.
"""

from .errors import FeedError, RowRejected

__all__ = ["FeedError", "RowRejected"]
