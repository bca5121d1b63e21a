"""The labs: generated from one source each, graded locally, points that measure.

Each lab is built once (``tools/labs.py``) and graded once (``tools/labs_grade.py``) per
module: its solution notebook (full marks), its untouched student notebook (0) and its corpus
of plausible-but-wrong submissions (each at most 30 %: the mistakes issue 22 saw, an
off-by-one, Adam without bias correction, the wrong axis, the whole dataset instead of the
test subset, images counted instead of patients, hard-coded answers). The corpus notebooks
are tiny (the lab's given cells and the wrong answers) to keep this cheap. The cheapest lab
also grades the bad submissions (an endless loop, a dying kernel, deleted and reordered cells
with an error and megabytes of output, an empty file, a file that is not a notebook); the
hostile ones are in tests/test_labs_attacks.py.
"""

from __future__ import annotations

import csv
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("otter", reason="the labs need otter-grader: make setup-labs (requirements-labs.txt)")
nbformat = pytest.importorskip("nbformat")

pytestmark = pytest.mark.labs

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import labs  # noqa: E402
import labs_grade  # noqa: E402

LABS = sorted(labs.lab_sources())
CHEAP_LAB = "measuring"  # no Keras: the bad submissions are graded on this one
FOLDERS: dict[str, pathlib.Path] = {}  # lab -> the folder of submissions the grades fixture graded

# One wrong answer per lab: (question, the student's variables, words the failing public check must show).
WRONG_ANSWERS = {
    "measuring": ("q1", {"glioma_precision": 23 / 28}, "recall"),
    "convolution": ("q1", {"conv_output_size": lambda size, kernel_size, stride=1, padding=0: size - kernel_size},
                    "(6 - 3) / 1 + 1"),
    "adam": ("q1", {"steps_per_epoch": 7}, "left over"),
    "brain_tumor": ("q1", {"num_patients": 18, "most_images_one_patient": 3, "index": list(range(18))},
                    "fewer patients than images"),
    "covid19": ("q2", {"class_weights": [3.0, 2.0, 1.0]}, "rarest class"),
    "shortcut": ("q1", {"marker_share_diseased": 0.05, "marker_share_healthy": 0.95}, "train.labels == 1"),
    "leakage": ("q2", {"leaked_by_slice": 0, "leaked_by_patient": 0}, "leaks more patients"),
    "retina": ("q2", {"output_units": 1, "output_activation": "softmax", "loss_name": "binary_crossentropy"},
               "softmax over one unit"),
}


# Plausible-but-wrong submissions: {lab: {name: the code a student who got it wrong would write}}.
WRONG_SUBMISSIONS = {
    "measuring": {
        "rows_and_columns_swapped": """
glioma_precision = float(counts[1, 1] / counts[1, :].sum())
recalls = np.diag(counts) / counts.sum(axis=0)
majority_label = int(np.bincount(y_pred).argmax())
majority_accuracy = float(np.mean(y_pred == majority_label))
model_accuracy = float(np.trace(counts) / counts.sum())
margin_points = model_accuracy - majority_accuracy
q5_choice, q5_reason = "b", "Precision says how many flagged pituitary cases are real ones, which saves time."
""",
        "counts_not_shares": """
glioma_precision = float(counts[1, 1])
recalls = np.diag(counts).astype(float)
majority_label = 1
majority_accuracy = float(np.sum(y_true == 1))
model_accuracy = float(np.trace(counts))
margin_points = model_accuracy - majority_accuracy
q5_choice, q5_reason = "a", "Accuracy sums up the whole matrix in one number that everybody understands."
""",
        "off_by_one_class": """
glioma_precision = float(counts[2, 2] / counts[:, 2].sum())
recalls = np.diag(counts)[::-1] / counts.sum(axis=1)[::-1]
majority_label = 2
majority_accuracy = float(np.mean(y_true == 2))
model_accuracy = float(np.mean(y_true == y_pred))
margin_points = 100 * (model_accuracy - majority_accuracy)
q5_choice, q5_reason = "d", "Macro F1 balances precision and recall over every class, so nothing is hidden."
""",
    },
    "adam": {
        "no_bias_correction": """
steps_per_epoch = training_images // batch_size
def adam_step(parameter, gradient, m, v, step):
    m = beta_1 * m + (1 - beta_1) * gradient
    v = beta_2 * v + (1 - beta_2) * gradient ** 2
    return parameter - learning_rate * m / (np.sqrt(v) + epsilon), m, v
first_result = adam_step(np.array([1.0, -2.0]), np.array([0.5, -4.0]), 0.0, 0.0, step=1)
first_steps = [abs(float(adam_step(0.0, g, 0.0, 0.0, step=1)[0])) for g in (1000.0, 0.001)]
same_size = bool(np.isclose(first_steps[0], first_steps[1], rtol=1e-3))
m_correction = 1.0
q5_choice, q5_reason = "a", "A smaller learning rate means cheaper steps, so the fine-tuning ends sooner."
""",
        "beta_1_squared": """
steps_per_epoch = round(training_images / batch_size)
def adam_step(parameter, gradient, m, v, step):
    m = beta_1 * m + (1 - beta_1) * gradient
    v = beta_2 * v + (1 - beta_2) * gradient ** 2
    m_hat = m / (1 - beta_1 ** 2)
    v_hat = v / (1 - beta_2 ** step)
    return parameter - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon), m, v
first_result = adam_step(np.array([1.0, -2.0]), np.array([0.5, -4.0]), 0.0, 0.0, step=1)
first_steps = [abs(float(adam_step(0.0, g, 0.0, 0.0, step=1)[0])) for g in (1000.0, 0.001)]
same_size = bool(np.isclose(first_steps[0], first_steps[1], rtol=1e-3))
m_correction = 1 / (1 - beta_1 ** 2)
q5_choice, q5_reason = "d", "The backbone gradients are bigger than the head's, so they need smaller rates."
""",
        "gradient_not_squared": """
steps_per_epoch = int(training_images / batch_size)
def adam_step(parameter, gradient, m, v, step):
    m = beta_1 * m + (1 - beta_1) * gradient
    v = beta_2 * v + (1 - beta_2) * abs(gradient)
    m_hat = m / (1 - beta_1 ** step)
    v_hat = v / (1 - beta_2 ** step)
    return parameter - learning_rate * m_hat / (v_hat + epsilon), m, v
first_result = adam_step(np.array([1.0, -2.0]), np.array([0.5, -4.0]), 0.0, 0.0, step=1)
first_steps = [abs(float(adam_step(0.0, g, 0.0, 0.0, step=1)[0])) for g in (1000.0, 0.001)]
same_size = False
m_correction = 1 - beta_1
q5_choice, q5_reason = "b", "Adam rescales the rate after the first step, so its exact value hardly matters."
""",
    },
    "convolution": {
        "flipped_kernel_no_plus_one": """
def conv_output_size(size, kernel_size, stride=1, padding=0):
    return (size + 2 * padding - kernel_size) // stride
def convolve(image, kernel):
    flipped = kernel[::-1, ::-1]
    rows, columns = image.shape[0] - kernel.shape[0] + 1, image.shape[1] - kernel.shape[1] + 1
    return np.array([[np.sum(image[i:i + kernel.shape[0], j:j + kernel.shape[1]] * flipped)
                      for j in range(columns)] for i in range(rows)])
feature_map = convolve(image, kernel)
edge_column = int(np.argmin(feature_map.sum(axis=0)))
def max_pool(feature_map, size=2):
    rows, columns = feature_map.shape
    return np.array([[feature_map[i:i + size, j:j + size].max() for j in range(columns - size + 1)]
                     for i in range(rows - size + 1)])
pooled = max_pool(feature_map)
def conv_parameters(kernel_size, in_channels, filters):
    return kernel_size * kernel_size * in_channels * filters
first_vgg_layer = conv_parameters(3, 3, 64)
q6_choice, q6_reason = "a", "Convolution filters are fixed edge detectors, so there is nothing to train."
""",
        "stride_ignored_mean_pool": """
def conv_output_size(size, kernel_size, stride=1, padding=0):
    return size + 2 * padding - kernel_size + 1
def convolve(image, kernel):
    rows, columns = image.shape[0] - kernel.shape[0], image.shape[1] - kernel.shape[1]
    return np.array([[np.sum(image[i:i + kernel.shape[0], j:j + kernel.shape[1]] * kernel)
                      for j in range(columns)] for i in range(rows)])
feature_map = convolve(image, kernel)
edge_column = 3
def max_pool(feature_map, size=2):
    rows, columns = feature_map.shape
    rows, columns = rows // size * size, columns // size * size
    return feature_map[:rows, :columns].reshape(rows // size, size, columns // size, size).mean(axis=(1, 3))
pooled = max_pool(feature_map)
def conv_parameters(kernel_size, in_channels, filters):
    return kernel_size * kernel_size * filters + filters
first_vgg_layer = conv_parameters(3, 3, 64)
q6_choice, q6_reason = "c", "A convolution looks at all pixels at once, so it sees more than a dense layer."
""",
        "rows_for_columns_subsampling": """
def conv_output_size(size, kernel_size, stride=1, padding=0):
    return (size - kernel_size) // stride + 1 + padding
from scipy.signal import convolve2d
def convolve(image, kernel):
    return convolve2d(image, kernel, mode="valid")
feature_map = convolve(image, kernel)
edge_column = int(np.argmax(feature_map.sum(axis=1)))
def max_pool(feature_map, size=2):
    return feature_map[::size, ::size]
pooled = max_pool(feature_map)
def conv_parameters(kernel_size, in_channels, filters):
    return kernel_size * kernel_size * in_channels + filters
first_vgg_layer = conv_parameters(3, 3, 64)
q6_choice, q6_reason = "d", "Convolutions keep the colour channels apart, a dense layer mixes them all."
""",
    },
    "brain_tumor": {
        "images_not_patients": """
num_patients = len(index)
most_images_one_patient = 1
manifest = make_splits(index, strategy="stratified", fractions=(0.70, 0.15, 0.15), seed=0)
def patients_in_several_subsets(manifest):
    return []
shared_patients = patients_in_several_subsets(manifest)
random_manifest = make_splits(index, strategy="stratified", fractions=(0.70, 0.15, 0.15), seed=0)
leaked_patients = int((random_manifest.groupby("patient_id")["subset"].nunique() > 1).sum())
baseline_accuracy = majority_baseline(manifest["label"].to_numpy(), class_names)["accuracy"]
q6_choice, q6_reason = "a", "The random split puts more images into training, so the network learns more."
""",
        "wrong_groupby_axis": """
num_patients = int(index["patient_id"].nunique())
most_images_one_patient = int(index.groupby("label").size().max())
manifest = index.assign(subset=np.resize(["train", "val", "test"], len(index)))
def patients_in_several_subsets(manifest):
    counts = manifest.groupby("subset")["patient_id"].nunique()
    return sorted(counts[counts > 1].index)
shared_patients = patients_in_several_subsets(manifest)
random_manifest = make_splits(index, strategy="grouped", fractions=(0.70, 0.15, 0.15), seed=0)
leaked_patients = int((random_manifest.groupby("subset")["patient_id"].nunique() > 1).sum())
test_labels = manifest.loc[manifest["subset"] == "train", "label"].to_numpy()
baseline_accuracy = majority_baseline(test_labels, class_names)["accuracy"]
q6_choice, q6_reason = "c", "A random split balances the three classes better, so the test set is easier."
""",
        "hard_coded": """
num_patients = 18
most_images_one_patient = 6
manifest = make_splits(index, strategy="grouped", fractions=(0.70, 0.15, 0.15), seed=0)
def patients_in_several_subsets(manifest):
    return []
shared_patients = []
random_manifest = manifest
leaked_patients = 0
baseline_accuracy = 1 / 3
q6_choice, q6_reason = "d", "The grouped split leaves classes out of the test set, which lowers its score."
""",
    },
    "covid19": {
        "minority_and_wrong_axis": """
majority_accuracy = float(study_counts.min() / study_counts.sum())
class_weights = study_counts / study_counts.sum()
manifest = make_splits(index, strategy="stratified", fractions=(0.60, 0.20, 0.20), seed=0)
class_shares = pd.crosstab(manifest["subset"], manifest["class_name"], normalize="columns")
test_labels = np.repeat([0, 1, 2], [2038, 269, 723])
useless_predictions = np.zeros_like(test_labels)
accuracy = accuracy_score(test_labels, useless_predictions)
macro_f1 = f1_score(test_labels, useless_predictions, average="micro")
q5_choice, q5_reason = "a", "Its training loss kept falling, so it learned the images by heart, not the disease."
""",
        "unnormalised_weights_whole_set": """
majority_accuracy = float(study_counts.max() / study_counts.sum())
class_weights = 1 / study_counts
manifest = index.assign(subset="train")
class_shares = pd.crosstab(manifest["subset"], manifest["class_name"], normalize="index")
test_labels = np.repeat([0, 1, 2], [2038, 269, 723])
useless_predictions = np.zeros_like(test_labels)
accuracy = float(np.mean(test_labels == useless_predictions))
macro_f1 = f1_score(test_labels, useless_predictions, average="weighted", zero_division=0)
q5_choice, q5_reason = "c", "Macro F1 close to accuracy means every class is recognised equally well."
""",
        "balanced_assumption": """
majority_accuracy = 1 / 3
class_weights = np.array([1.0, 1.0, 1.0])
manifest = make_splits(index, strategy="stratified", fractions=(0.60, 0.20, 0.20), seed=0)
class_shares = pd.crosstab(manifest["subset"], manifest["class_name"], normalize="all")
test_labels = np.repeat([0, 1, 2], [2038, 269, 723])
accuracy = 1 - 2038 / 3030
macro_f1 = accuracy
q5_choice, q5_reason = "d", "ImageNet weights come from photographs, so the network looks at the wrong things."
""",
    },
    "leakage": {
        "slices_not_patients": """
num_patients = len(index)
slices_per_patient = 1
def count_shared_patients(manifest):
    return int((manifest["subset"] == "test").sum())
slice_manifest = make_splits(index, strategy="stratified", fractions=(0.6, 0.1, 0.3), seed=0)
patient_manifest = make_splits(index, strategy="stratified", fractions=(0.6, 0.1, 0.3), seed=1)
leaked_by_slice = count_shared_patients(slice_manifest)
leaked_by_patient = count_shared_patients(patient_manifest)
slice_accuracy = fit_and_score(slice_manifest)
patient_accuracy = fit_and_score(patient_manifest)
gap_points = 100 * (slice_accuracy - patient_accuracy)
q4_choice, q4_reason = "a", "The split by slice tests slices of every patient, so it covers all of them."
""",
        "validation_ignored_wrong_axis": """
num_patients = int(index["patient_id"].nunique())
slices_per_patient = int(index.groupby("label").size().max())
def count_shared_patients(manifest):
    test = set(manifest.loc[manifest["subset"] == "test", "patient_id"])
    return len(test & set(manifest.loc[manifest["subset"] == "train", "patient_id"]))
slice_manifest = make_splits(index, strategy="stratified", fractions=(0.6, 0.1, 0.3), seed=0)
patient_manifest = make_splits(index, strategy="grouped", fractions=(0.6, 0.1, 0.3), seed=0)
leaked_by_slice = count_shared_patients(slice_manifest)
leaked_by_patient = count_shared_patients(patient_manifest)
slice_accuracy = fit_and_score(patient_manifest)
patient_accuracy = fit_and_score(slice_manifest)
gap_points = slice_accuracy - patient_accuracy
q4_choice, q4_reason = "c", "Each split is biased one way, so the mean of the two cancels both biases."
""",
        "hard_coded": """
num_patients, slices_per_patient = 18, 8
def count_shared_patients(manifest):
    return 0
leaked_by_slice, leaked_by_patient = 0, 0
slice_accuracy, patient_accuracy = 0.99, 0.33
gap_points = 66.0
q4_choice, q4_reason = "d", "The model saw every patient in training, so training accuracy is what counts."
""",
    },
    "retina": {
        "softmax_zero_based_epoch": """
subset_sizes = {"train": len(index), "val": 0, "test": 0}
output_units, output_activation, loss_name = 2, "softmax", "binary_crossentropy"
unfrozen, unfrozen_count, trainable_before, trainable_after = ["block5_conv3"], 1, 0, 1
history = {"loss": [0.66, 0.52, 0.44, 0.38, 0.33, 0.28, 0.24, 0.20, 0.17],
           "val_loss": [0.62, 0.51, 0.45, 0.43, 0.44, 0.47, 0.50, 0.55, 0.58]}
patience = 3
best_epoch = int(np.argmin(history["val_loss"]))
last_epoch = best_epoch + patience
q5_choice, q5_reason = "a", "Both losses are still high, so more epochs would bring them down further."
""",
        "training_loss_watched": """
subset_sizes = index["label"].value_counts().to_dict()
output_units, output_activation, loss_name = 1, "softmax", "categorical_crossentropy"
unfrozen, unfrozen_count, trainable_before, trainable_after = [], 0, 0, 0
history = {"loss": [0.66, 0.52, 0.44, 0.38, 0.33, 0.28, 0.24, 0.20, 0.17],
           "val_loss": [0.62, 0.51, 0.45, 0.43, 0.44, 0.47, 0.50, 0.55, 0.58]}
patience = 3
best_epoch = int(np.argmin(history["loss"])) + 1
last_epoch = best_epoch
q5_choice, q5_reason = "c", "The validation loss moves slowly because the learning rate is far too small."
""",
        "patience_off_by_one": """
subset_sizes = index["split"].value_counts().to_dict()
output_units, output_activation, loss_name = 2, "sigmoid", "categorical_crossentropy"
unfrozen, unfrozen_count, trainable_before, trainable_after = ["block5_pool"], 10, 100, 200
history = {"loss": [0.66, 0.52, 0.44, 0.38, 0.33, 0.28, 0.24, 0.20, 0.17],
           "val_loss": [0.62, 0.51, 0.45, 0.43, 0.44, 0.47, 0.50, 0.55, 0.58]}
patience = 3
best_epoch = 4
last_epoch = best_epoch + patience + 1
q5_choice, q5_reason = "d", "The validation set is too small here for its loss to tell us anything at all."
""",
    },
    "shortcut": {
        "classes_swapped": """
marker_share_diseased = float(train.has_marker[train.labels == 0].mean())
marker_share_healthy = float(train.has_marker[train.labels == 1].mean())
marker_rule_accuracy = float(np.mean(train.has_marker.astype(int) != train.labels))
def flat(data):
    return data.images.reshape(len(data.images), -1)
model = LogisticRegression(max_iter=500).fit(flat(train), train.labels)
accuracies = {name: float(model.score(flat(train), train.labels)) for name in test_sets}
drop_points = accuracies["marker as in training"] - accuracies["marker removed"]
q5_choice, q5_reason = "b", "Training longer and checking that the accuracy holds shows that it is stable."
""",
        "whole_dataset": """
marker_share_diseased = float(train.has_marker.mean())
marker_share_healthy = 1 - marker_share_diseased
marker_rule_accuracy = float(np.mean(train.has_marker))
def flat(data):
    return data.images.reshape(len(data.images), -1)
model = LogisticRegression(max_iter=500).fit(flat(train), train.labels)
accuracies = {name: float(model.score(flat(data), train.labels[: len(data.labels)])) for name, data in test_sets.items()}
drop_points = 100 * (accuracies["marker as in training"] - accuracies["marker reversed"]) + 50
q5_choice, q5_reason = "d", "A larger network would reach the same accuracy only if it truly generalises."
""",
        "hard_coded_rates": """
marker_share_diseased, marker_share_healthy = 0.95, 0.05
marker_rule_accuracy = 0.95
accuracies = {"marker as in training": 0.95, "marker removed": 0.5, "marker reversed": 0.05}
drop_points = 45.0
q5_choice, q5_reason = "a", "Ninety-seven per cent on held-out test images already shows that it generalises."
""",
    },
}


def _given_cells(student: pathlib.Path, lab: str) -> list[str]:
    """The lab's given code (data, imports) before its first question, without Keras (the corpus is tiny)."""
    notebook = nbformat.read(student, as_version=4)
    cells = [cell.source for cell in notebook.cells if cell.cell_type == "code"][2:]  # after setup and Otter's init
    given = []
    for source in cells:
        if "..." in source or "grader.check" in source:
            break
        given.append("\n".join(line for line in source.splitlines()
                               if "medcnn.models" not in line and "plot_learning_curves" not in line))
    return given


def _wrong_notebook(student: pathlib.Path, lab: str, code: str, target: pathlib.Path) -> None:
    cells = [nbformat.v4.new_code_cell(source) for source in [*_given_cells(student, lab), code.strip()]]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, target)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    # `make test-labs` runs `make labs` first (which checks the committed copies) and sets
    # MEDCNN_LABS_BUILT=1: the labs it just built are used instead of building them again.
    reuse = ROOT / "_build" / "labs"
    if os.environ.get("MEDCNN_LABS_BUILT") == "1" and all(
        (reuse / lab / "source.sha256").is_file()
        and (reuse / lab / "source.sha256").read_text().strip() == labs.source_digest(labs.lab_sources()[lab])
        for lab in LABS
    ):
        return reuse
    out = tmp_path_factory.mktemp("labs")
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "labs.py"), "--out", str(out), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def _cell_with(notebook, text):
    return next(i for i, cell in enumerate(notebook.cells) if text in cell.source)


def _bad_submissions(folder: pathlib.Path, solution: pathlib.Path) -> None:
    (folder / "not_a_notebook.ipynb").write_text("print('hello')\n")
    (folder / "empty.ipynb").write_text("")
    notebook = nbformat.read(solution, as_version=4)
    loop = nbformat.v4.new_code_cell("while True:\n    pass")
    notebook.cells.insert(_cell_with(notebook, 'grader.check("q1")'), loop)
    nbformat.write(notebook, folder / "endless.ipynb")
    notebook = nbformat.read(solution, as_version=4)
    notebook.cells.insert(_cell_with(notebook, 'grader.check("q1")'), nbformat.v4.new_code_cell("import os\nos._exit(1)"))
    nbformat.write(notebook, folder / "dies.ipynb")
    notebook = nbformat.read(solution, as_version=4)
    del notebook.cells[_cell_with(notebook, 'grader.check("q1")')]
    second, third = _cell_with(notebook, 'grader.check("q2")'), _cell_with(notebook, 'grader.check("q3")')
    notebook.cells[second], notebook.cells[third] = notebook.cells[third], notebook.cells[second]
    flood = nbformat.v4.new_code_cell("print('x' * 100_000 * 30)\nraise RuntimeError('student bug')")
    notebook.cells.insert(_cell_with(notebook, 'grader.check("q2")') - 1, flood)
    nbformat.write(notebook, folder / "damaged.ipynb")


def _spanish_submissions(lab: str, folder: pathlib.Path, solution: pathlib.Path) -> None:
    """The Spanish student notebook (issue 27) as committed, and answered: each of its code cells
    replaced by the solution's (the two notebooks have the same cells, in the same order)."""
    spanish = labs.published_copy(lab).with_suffix(".es.ipynb")
    shutil.copyfile(spanish, folder / "student_es.ipynb")
    answered = nbformat.read(spanish, as_version=4)
    answers = nbformat.read(solution, as_version=4)
    assert [cell.cell_type for cell in answered.cells] == [cell.cell_type for cell in answers.cells], lab
    for cell, answer in zip(answered.cells, answers.cells):
        if cell.cell_type == "code":
            cell.source = answer.source
    nbformat.write(answered, folder / "solution_es.ipynb")


@pytest.fixture(scope="module")
def grades(built, tmp_path_factory):
    """{lab: {file: row}} from grading each lab's solution, untouched student notebook and wrong corpus."""
    from concurrent.futures import ThreadPoolExecutor

    def grade(lab):
        folder = FOLDERS[lab] = tmp_path_factory.mktemp(f"submissions-{lab}")
        shutil.copyfile(built / lab / "autograder" / f"{lab}.ipynb", folder / "solution.ipynb")
        shutil.copyfile(built / lab / "student" / f"{lab}.ipynb", folder / "student.ipynb")
        _spanish_submissions(lab, folder, built / lab / "autograder" / f"{lab}.ipynb")
        for name, code in WRONG_SUBMISSIONS.get(lab, {}).items():
            _wrong_notebook(built / lab / "student" / f"{lab}.ipynb", lab, code, folder / f"wrong_{name}.ipynb")
        if lab == CHEAP_LAB:
            _bad_submissions(folder, folder / "solution.ipynb")
        # 10 s per cell where the endless loop is; Keras's import alone may take longer on a busy CPU
        cell_timeout = 10 if lab == CHEAP_LAB else 120
        out = labs_grade.grade_folder(lab, folder, labs_dir=built, out=folder.parent / f"grades-{lab}" / "grades.csv",
                                      timeout=300, cell_timeout=cell_timeout, max_output=200_000, jobs=2, build=False,
                                      quiet=True)
        with out.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert list(rows[0])[:7] == ["student", "file", "score", "manual", "total", "possible", "reason"]
        return lab, {row["file"]: row for row in rows}

    # Two labs at a time, two notebooks each: most of a notebook's time is waiting on a kernel.
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(grade, LABS))


def test_at_least_six_labs_with_four_to_eight_questions(built):
    assert len(LABS) >= 6, LABS
    for lab in LABS:
        questions = sorted((built / lab / "autograder" / "tests").glob("q*.py"))
        assert 4 <= len(questions) <= 8, (lab, [path.name for path in questions])
        assert not list((built / lab / "autograder").glob("*.zip")), "no Gradescope zip: Gradescope is not offered"
        assert (built / lab / "autograder").stat().st_mode & 0o077 == 0, "the solution is the instructor's user's only"


def _solution_lines(source: pathlib.Path) -> list[str]:
    """The code lines of a lab's source that only the solution has (``# SOLUTION`` or inside a solution block)."""
    lines, in_code, inside = [], False, False
    for line in source.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            in_code = stripped.startswith("```{code-cell}")
            continue
        if not in_code:
            continue
        if stripped in ("# BEGIN SOLUTION", "# END SOLUTION"):
            inside = stripped == "# BEGIN SOLUTION"
            continue
        code = stripped.removesuffix("# SOLUTION").strip()
        if (inside or stripped.endswith("# SOLUTION")) and len(code) > 12 and not code.startswith("#"):
            lines.append(code)
    return lines


def test_student_notebooks_hold_no_solution_and_no_hidden_test(built):
    for lab in LABS:
        student = (built / lab / "student" / f"{lab}.ipynb").read_text()
        student_sources = "\n".join(cell.source for cell in nbformat.reads(student, as_version=4).cells)
        for marker in labs.SOLUTION_MARKERS:
            assert marker not in student, (lab, marker)
        solution_lines = _solution_lines(labs.lab_sources()[lab])
        assert solution_lines, lab
        for code in solution_lines:
            assert code not in student_sources, f"{lab}: the solution line {code!r} is in the student notebook"
        for test_file in (built / lab / "autograder" / "tests").glob("*.py"):
            text = test_file.read_text()
            hidden = [block for block in text.split("@test_case(")[1:] if "hidden=True" in block.split(")")[0]]
            assert hidden, f"{lab} {test_file.name}: each question has a hidden test"
            for block in hidden:
                name = block.split("def ")[1].split("(")[0]
                assert name not in student, (lab, name)
                assert name not in (built / lab / "student" / "tests" / test_file.name).read_text()


def test_student_notebook_carries_colab_link_install_cell_and_public_checks(built):
    config_url = labs._book().repository_url
    for lab in LABS:
        notebook = nbformat.read(built / lab / "student" / f"{lab}.ipynb", as_version=4)
        text = "\n".join(cell.source for cell in notebook.cells)
        assert labs.colab_url(lab) in text and "colab.research.google.com/github/" in labs.colab_url(lab)
        assert "otter-grader==" in text and f"git+{config_url}@" in text
        assert '"--no-deps"' in text and all(f'"{package}"' in text for package in labs.OTTER_NO_DEPS)
        assert f'otter.Notebook(tests_dir="tests/{lab}")' in text and f'pathlib.Path("tests/{lab}")' in text
        assert "grader.check(" in text


def test_committed_student_notebooks_are_current(built):
    for lab in LABS:
        committed = labs.published_copy(lab)
        assert committed.read_bytes() == (built / lab / "student" / f"{lab}.ipynb").read_bytes(), (
            f"{committed} is out of date: run `make publish-labs` and commit it"
        )


def test_solution_scores_full_marks(grades):
    for lab, rows in grades.items():
        row = rows["solution.ipynb"]
        assert float(row["score"]) == float(row["possible"]) > 0, (lab, row)


def test_the_spanish_student_notebook_is_graded_by_the_same_tests(grades):
    # answered in the Spanish notebook: full marks; left as committed: zero, without an error
    for lab, rows in grades.items():
        answered, blank = rows["solution_es.ipynb"], rows["student_es.ipynb"]
        assert float(answered["score"]) == float(answered["possible"]) == float(rows["solution.ipynb"]["possible"]), (lab, answered)
        assert float(blank["score"]) == 0 and "errors in" not in blank["reason"], (lab, blank)


def test_untouched_student_notebook_runs_without_error_and_scores_zero(grades):
    for lab, rows in grades.items():
        row = rows["student.ipynb"]
        assert float(row["score"]) == 0, (lab, row)
        assert "errors in" not in row["reason"] and "stopped" not in row["reason"], (lab, row["reason"])


def test_every_lab_has_a_wrong_answer_case():
    assert sorted(WRONG_ANSWERS) == LABS
    assert sorted(WRONG_SUBMISSIONS) == LABS and all(len(corpus) >= 3 for corpus in WRONG_SUBMISSIONS.values())


def test_plausible_but_wrong_submissions_score_at_most_thirty_percent(grades):
    for lab, corpus in WRONG_SUBMISSIONS.items():
        for name in corpus:
            row = grades[lab][f"wrong_{name}.ipynb"]
            assert "errors in" not in row["reason"], (lab, name, row["reason"])  # wrong, not broken
            assert float(row["score"]) <= 0.3 * float(row["possible"]), (lab, name, row)


def test_scores_are_rounded_and_feedback_written(grades):
    for lab, rows in grades.items():
        feedback = FOLDERS[lab].parent / f"grades-{lab}" / "feedback"
        wrong = (feedback / "wrong_" f"{next(iter(WRONG_SUBMISSIONS[lab]))}.md").read_text()
        assert "hidden check" in wrong and "failed" in wrong and f"/ {float(rows['solution.ipynb']['possible']):g}" in wrong
        assert "failed" not in (feedback / "solution.md").read_text()
        for row in rows.values():
            for column in ("score", *[name for name in row if re.fullmatch(r"q\d+", name)]):
                assert len(row[column].partition(".")[2]) <= 2, (lab, column, row[column])


@pytest.mark.parametrize("lab", sorted(WRONG_ANSWERS))
def test_wrong_answer_fails_its_public_check_with_a_helpful_message(built, lab):
    from otter.nbmeta_config import NBMetadataConfig
    from otter.test_files import create_test_file

    question, variables, words = WRONG_ANSWERS[lab]
    public = create_test_file(str(built / lab / "student" / "tests" / f"{question}.py"), NBMetadataConfig())
    environment = {"np": pytest.importorskip("numpy"), **variables}
    public.run(environment)
    assert not public.passed_all
    assert words in public.summary(), public.summary()


def test_bad_submissions_are_stopped_and_scored(grades):
    rows = grades[CHEAP_LAB]
    possible = float(rows["solution.ipynb"]["possible"])
    assert rows["not_a_notebook.ipynb"]["score"] == "0.0" and "not a Jupyter notebook" in rows["not_a_notebook.ipynb"]["reason"]
    assert rows["empty.ipynb"]["score"] == "0.0" and "empty" in rows["empty.ipynb"]["reason"]
    endless = rows["endless.ipynb"]
    assert "stopped after 10 s" in endless["reason"] and float(endless["score"]) == possible, endless
    endless_cell = _cell_with(nbformat.read(FOLDERS[CHEAP_LAB] / "endless.ipynb", as_version=4), "while True") + 1
    assert f"stopped after 10 s: {endless_cell}" in endless["reason"], "the notebook's real cell number (from 1)"
    dies = rows["dies.ipynb"]
    assert float(dies["score"]) == 0 and "kernel died" in dies["reason"], dies
    damaged = rows["damaged.ipynb"]
    for words in ("check cells deleted: q1", "reordered", "RuntimeError", "dropped"):
        assert words in damaged["reason"], damaged
    assert float(damaged["score"]) == possible, damaged  # the hidden tests grade the answers, not the check cells


def test_grade_command_needs_a_built_lab(tmp_path):
    with pytest.raises(SystemExit, match="make labs"):
        labs_grade.grade_folder("measuring", tmp_path, labs_dir=tmp_path / "nowhere", build=False)


def test_labs_page_lists_every_lab_with_working_links():
    import re

    page = (ROOT / "book" / "labs" / "index.md").read_text()
    assert "file: book/labs/index" in (ROOT / "_toc.yml").read_text(), "the Labs part is in _toc.yml"
    for lab in LABS:
        row = next((line for line in page.splitlines() if f"labs/{lab}/student/{lab}.ipynb" in line), None)
        assert row, f"book/labs/index.md has no row for the lab {lab}"
        assert f"{{download}}`download <../../labs/{lab}/student/{lab}.ipynb>`" in row
        assert f"]({labs.colab_url(lab)})" in row, f"{lab}: the Colab link must be {labs.colab_url(lab)}"
        assert labs.published_copy(lab).is_file()
    for page_path in (ROOT / "book" / "labs" / "index.md", ROOT / "book" / "start" / "instructors.md"):
        for target in re.findall(r"\{doc\}`(?:[^`<]*<)?([^`>]+)>?`", page_path.read_text()):
            assert (page_path.parent / f"{target}.md").resolve().is_file(), f"{page_path.name}: {{doc}} {target} does not exist"


@pytest.mark.browser
def test_built_site_publishes_the_student_notebooks():
    # run with the browser test, on a finished build (make test builds the book beside the tests)
    page = ROOT / "_build" / "html" / "book" / "labs" / "index.html"
    if os.environ.get("MEDCNN_BOOK_BUILT") != "1" or not page.is_file():
        pytest.skip("the site is not built here (make book); the Labs page's sources are checked above")
    html = page.read_text()
    for lab in LABS:
        downloads = [link for link in __import__("re").findall(r'href="([^"]+)"', html) if link.endswith(f"/{lab}.ipynb")]
        assert any("_downloads" in link for link in downloads), f"{lab}: no download link on the built Labs page"
        for link in downloads:
            if not link.startswith("http"):
                assert (page.parent / link).resolve().is_file(), link
        assert labs.colab_url(lab) in html


def test_a_notebook_that_never_calls_the_checks_is_noted(built, tmp_path):
    solution = nbformat.read(built / CHEAP_LAB / "autograder" / f"{CHEAP_LAB}.ipynb", as_version=4)
    solution.cells = [cell for cell in solution.cells if "grader.check(" not in cell.source]
    nbformat.write(solution, tmp_path / "no_checks.ipynb")
    expected = labs_grade._expected_checks(built / CHEAP_LAB / "autograder", CHEAP_LAB)
    assert expected == [f"q{number}" for number in range(1, len(expected) + 1)]
    problem, notes = labs_grade.inspect_submission(tmp_path / "no_checks.ipynb", expected)
    assert problem is None and any("never calls the checks" in note for note in notes), notes


def test_grading_enforces_the_smoke_profile(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('import os\nPROFILE = "full"  # as the lab text suggests for a real run\nprint(PROFILE)'),
        nbformat.v4.new_code_cell('import otter\ngrader = otter.Notebook(tests_dir="tests/measuring")'),
        nbformat.v4.new_code_cell('grader.check("q1")'),
    ])
    nbformat.write(notebook, tmp_path / "full.ipynb")
    notes = labs_grade.prepare_notebook(tmp_path / "full.ipynb", tmp_path / "prepared.ipynb")
    prepared = nbformat.read(tmp_path / "prepared.ipynb", as_version=4)
    assert notes == ["PROFILE set to full: graded in the smoke profile"]
    assert 'PROFILE = "smoke"' in prepared.cells[0].source and '"full"' not in prepared.cells[0].source.split("#")[0]
    assert "otter" not in prepared.cells[1].source and 'grader.check("q1")' not in prepared.cells[2].source
    default = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        'PROFILE = os.environ.get("MEDCNN_PROFILE", "smoke")  # "smoke" or "full"')])
    nbformat.write(default, tmp_path / "default.ipynb")
    assert labs_grade.prepare_notebook(tmp_path / "default.ipynb", tmp_path / "prepared.ipynb") == []


def test_a_lab_whose_source_changed_is_rebuilt_before_grading(built, tmp_path):
    labs_dir = tmp_path / "labs"
    shutil.copytree(built / CHEAP_LAB, labs_dir / CHEAP_LAB)
    (labs_dir / CHEAP_LAB / "grades").mkdir()
    (labs_dir / CHEAP_LAB / "grades" / "grades.csv").write_text("kept\n")
    assert labs_grade.ensure_built(CHEAP_LAB, labs_dir) == labs_dir / CHEAP_LAB / "autograder"
    stamp = labs_dir / CHEAP_LAB / "source.sha256"
    untouched = (labs_dir / CHEAP_LAB / "autograder" / "tests" / "q1.py").stat().st_mtime_ns
    assert (labs_dir / CHEAP_LAB / "autograder" / "tests" / "q1.py").stat().st_mtime_ns == untouched
    stamp.write_text("a source from before\n")  # as if labs/measuring/measuring.md had changed since the build
    (labs_dir / CHEAP_LAB / "autograder" / "tests" / "q1.py").write_text("stale")
    labs_grade.ensure_built(CHEAP_LAB, labs_dir)
    assert stamp.read_text().strip() == labs.source_digest(labs.lab_sources()[CHEAP_LAB])
    assert "test_q1_4" in (labs_dir / CHEAP_LAB / "autograder" / "tests" / "q1.py").read_text()
    assert (labs_dir / CHEAP_LAB / "grades" / "grades.csv").read_text() == "kept\n", "a rebuild keeps the grades"
