"""churn-monitoring: a churn-prediction service built to be observed."""
