"""manage.py load_demo_data: the demo account plus two small clinical datasets."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.core.management.base import BaseCommand

from collaboration.services import demo_user_ensure
from datasets.models import Dataset
from datasets.services import dataset_ingest


def breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.drop(columns="target")
    frame["diagnosis"] = [str(bunch.target_names[t]) for t in bunch.target]
    return frame


def diabetes() -> pd.DataFrame:
    from sklearn.datasets import load_diabetes

    return load_diabetes(as_frame=True, scaled=False).frame.rename(
        columns={"target": "progression"}
    )


DEMO_DATASETS = [
    (
        "Breast cancer (Wisconsin diagnostic)",
        "breast_cancer.csv",
        breast_cancer,
        "569 tumours, 30 measurements each. Classification: predict `diagnosis` "
        "(malignant / benign).",
    ),
    (
        "Diabetes progression",
        "diabetes.csv",
        diabetes,
        "442 patients, 10 baseline variables. Regression: predict `progression`, a "
        "measure of disease progression one year later.",
    ),
]


class Command(BaseCommand):
    help = "Create the demo user (if needed) and import the demo datasets (once)."

    def handle(self, *args, **options) -> None:
        user, workspace, password = demo_user_ensure(
            password=os.environ.get("DEMO_PASSWORD") or None,
            password_file=settings.BASE_DIR / "var" / "demo_password",
        )
        for name, filename, build, description in DEMO_DATASETS:
            if Dataset.objects.filter(workspace=workspace, name=name).exists():
                self.stdout.write(f"{name}: already there, skipped.")
                continue
            with tempfile.TemporaryDirectory(prefix="medilytica-demo-") as folder:
                path = Path(folder) / filename
                build().to_csv(path, index=False)
                dataset = dataset_ingest(
                    user=user,
                    workspace=workspace,
                    source=path,
                    filename=filename,
                    name=name,
                    description=description,
                )
            self.stdout.write(
                self.style.SUCCESS(f"{name}: imported, {dataset.rows} rows x {dataset.n_columns}.")
            )
        base = f"http://{settings.HOST}:{settings.PORT}"
        self.stdout.write(
            "\nDemo login\n"
            f"  Web app:  {base}/\n"
            f"  username: {user.username}\n"
            f"  password: {password}\n"
            f"  API docs: {base}/api/docs\n"
            f"  Admin:    {base}/admin/  (the demo user is not staff; create an administrator "
            "with `manage.py createsuperuser`)\n"
        )
