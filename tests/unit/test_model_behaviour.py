"""How a trained model behaves, whatever its metrics: the directions the data says churn moves
in, robustness to odd inputs, and no personal or identity column ever reaching it."""

import numpy as np

from churn.data import load_customers
from churn.model.registry import load_model


def test_unseen_category_and_missing_values_still_score(trained_project):
    model = load_model(trained_project.models_dir)
    rows = load_customers(trained_project.data_path, trained_project).head(3).copy()
    rows.loc[rows.index[0], "Geography"] = "Portugal"
    rows.loc[rows.index[1], ["Age", "CreditScore", "Gender"]] = np.nan
    scores = model.pipeline.predict_proba(rows[trained_project.features])[:, 1]
    assert np.all((scores >= 0) & (scores <= 1))


def test_inactive_customers_score_higher_on_average(trained_project):
    model = load_model(trained_project.models_dir)
    rows = load_customers(trained_project.data_path, trained_project).head(500)
    active = rows.assign(IsActiveMember=1)[trained_project.features]
    inactive = rows.assign(IsActiveMember=0)[trained_project.features]
    assert (model.pipeline.predict_proba(inactive)[:, 1].mean()
            > model.pipeline.predict_proba(active)[:, 1].mean() + 0.05)


def test_identity_columns_never_reach_the_model(trained_project):
    model = load_model(trained_project.models_dir)
    assert not {"Surname", "CustomerId", "RowNumber"} & set(model.pipeline.feature_names_in_)
