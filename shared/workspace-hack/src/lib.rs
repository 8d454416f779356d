//! Features only: see infra/workspace-hack.py.
