"""Great Expectations suites: infer one from train, validate every split during the scan.

* :func:`dataaudit.expectations.generate.generate_suite` writes a suite inferred from
  the train split (``dataaudit expectations generate SOURCE -o expectations/NAME.json``);
* :class:`dataaudit.expectations.validate.SuiteValidator` validates the batches of
  every split during the scan's single pass (``dataaudit scan SOURCE --expectations
  FILE``) and reports each failed expectation as a finding with check id
  ``expectation``.

Great Expectations is imported lazily, inside those functions: importing this
package costs nothing.
"""

from __future__ import annotations

CHECK_ID = "expectation"
"""The contract id of findings produced from a suite."""

__all__ = ["CHECK_ID"]
