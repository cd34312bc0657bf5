"""Periodic jobs: one runner, one failure policy, one status, for every background job.

The jobs process (``waternet jobs``) runs them; the API runs none. See
:mod:`waternet.jobs.registry` for the list and :mod:`waternet.jobs.runner` for the policy.
"""
