"""Framework integrations. Each module maps one framework's hooks onto the public API and
imports its framework lazily:

- `fwtrack.integrations.lightning`: `FwTrackLogger` (and `FwTrackFabricLogger`)
- `fwtrack.integrations.transformers`: `FwTrackCallback`, `report_to="fwtrack"`
  (and `FwTrackTracker` for Accelerate)
- `fwtrack.integrations.keras`: `FwTrackCallback` (and `FwTrackModelCheckpoint`)
- `fwtrack.integrations.xgboost`: `FwTrackCallback`
"""
