# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The export's outcome of one invoice, typed: what the batch writes and what the dashboard
files (one card per cause)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Cause:
    """The one record a person fixes once for every invoice it blocks (an unmapped tax, a
    contact Xero refused): filed as one dashboard card per cause."""

    kind: str  # a xero.failure kind: "mapping" | "contact"
    model: str
    res_id: int


@dataclass(frozen=True)
class ProblemLine:
    """One reason an invoice was not sent, in the user's language; ``cause`` when one record
    behind it blocks other invoices too."""

    text: str
    cause: Cause | None = None


@dataclass(frozen=True)
class ExportOutcome:
    """What the export makes of one invoice.

    ``state``      ``sent`` (in Xero, ``xero_id``), ``queued`` (send again) or ``failed``
    ``lines``      why it failed (the invoice's problems, each with its cause if any)
    ``drift``      sent, but Xero's total differs: the drift card's text
    """

    state: str
    xero_id: str | None = None
    lines: tuple[ProblemLine, ...] = ()
    drift: str | None = None

    @property
    def message(self) -> str | None:
        """The text kept on the invoice (``xero_error``)."""
        if self.lines:
            return "\n".join(line.text for line in self.lines)
        return self.drift

    @property
    def causes(self) -> list[Cause]:
        return [line.cause for line in self.lines if line.cause is not None]

    @property
    def uncaused(self) -> list[ProblemLine]:
        """The lines no cause card covers: they need the invoice's own card."""
        return [line for line in self.lines if line.cause is None]
