"""The command line under hostile or unlucky input (issue 13): outputs that are devices or
links, a run's files replaced together, images and networks too large to allocate refused
first, model files naming special files as their data, deep configs, Ctrl-C, and errors that
name the subcommand. Each failure is one line on stderr and exit code 1 or 2."""

import os
import signal
import stat
import tracemalloc

import numpy as np
import pytest
from PIL import Image

import scratchnn.training
from scratchnn.callbacks import Callback
from scratchnn.cli import commands, main
from scratchnn.serialization import load_model_file, save


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err):
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err.strip()


def temporaries(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "digits"
    assert main(["train", "--hidden", "16", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    return out / "model.npz"


@pytest.fixture
def digit_csv(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text(",".join(["3"] * 64) + "\n")
    return path


# -- item 1: outputs that are devices or links -----------------------------------------------------
def test_predict_output_to_dev_null_leaves_the_device(model_file, digit_csv, capsys):
    before = os.stat(os.devnull)
    code, out, err = run(capsys, "predict", "--model", model_file, "--input", digit_csv,
                         "--output", os.devnull)
    assert code == 0, err
    after = os.stat(os.devnull)
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


def test_predict_output_through_a_symlink_writes_the_target(model_file, digit_csv, tmp_path,
                                                            capsys):
    target = tmp_path / "predictions.csv"
    target.write_text("old\n")
    link = tmp_path / "latest.csv"
    link.symlink_to(target)
    code, _, err = run(capsys, "predict", "--model", model_file, "--input", digit_csv,
                       "--output", link)
    assert code == 0, err
    assert link.is_symlink() and target.read_text().startswith("prediction,probability")


# -- item 2: a killed save's temporary is removed by the next run ----------------------------------
def test_train_removes_a_stale_temporary_of_its_files(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    stale = out / ".model.npz.0123456789ab.tmp"
    stale.write_bytes(b"x" * 1000)
    os.utime(stale, (0, 0))
    code, _, err = run(capsys, "train", "--hidden", "8", "--epochs", "1", "--out", out, "--quiet")
    assert code == 0, err
    assert temporaries(out) == []


# -- item 3: a run's files are replaced together ---------------------------------------------------
def test_a_failed_train_leaves_the_previous_run_whole(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    assert main(["train", "--hidden", "8", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    files = {name: (out / name).read_bytes() for name in ("model.npz", "history.json",
                                                          "curves.png")}

    def full_disk(history, path=None, **kwargs):
        from scratchnn._files import atomic_write

        with atomic_write(path) as fh:
            fh.write(b"\x89PNG half")
            raise OSError(28, "No space left on device")

    monkeypatch.setattr("scratchnn.plots.plot_history", full_disk)
    code, _, err = run(capsys, "train", "--hidden", "8", "--epochs", "2", "--seed", "5",
                       "--out", out, "--quiet")
    assert code == 1 and "No space left on device" in one_line(err)
    assert {name: (out / name).read_bytes() for name in files} == files
    assert temporaries(out) == []


def test_a_folder_named_model_npz_is_found_before_training(tmp_path, capsys):
    out = tmp_path / "run"
    (out / "model.npz").mkdir(parents=True)
    code, stdout, err = run(capsys, "train", "--epochs", "1", "--out", out, "--quiet")
    assert code == 1 and "model.npz is a folder" in one_line(err)
    assert "trained" not in stdout


# -- item 7: images refused from their header ------------------------------------------------------
@pytest.mark.parametrize("size, message", [((100000, 1), "100000x1 pixels"),
                                           ((30000, 1), "30000x1 pixels"),
                                           ((5000, 5000), "up to 4096 pixels"),
                                           ((2000, 20), "a strip")])
def test_oversized_or_degenerate_images_are_refused_before_decoding(model_file, tmp_path,
                                                                    capsys, size, message):
    path = tmp_path / "big.png"
    Image.new("L", size, 255).save(path)
    tracemalloc.start()
    try:
        code, _, err = run(capsys, "predict", "--model", model_file, "--input", path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 1 and message in one_line(err)
    assert peak < 20 * 2**20  # before: 3.6 GB for 30000x1, a MemoryError for 100000x1


def test_an_image_of_ordinary_proportions_is_still_read(model_file, tmp_path, capsys):
    path = tmp_path / "wide.png"
    Image.new("L", (300, 40), 0).save(path)
    code, out, err = run(capsys, "predict", "--model", model_file, "--input", path)
    assert code == 0, err
    assert out.startswith("file,prediction")


# -- item 8: networks too large for the memory -----------------------------------------------------
def test_a_huge_hidden_layer_is_refused_with_the_memory_it_needs(capsys):
    code, stdout, err = run(capsys, "train", "--hidden", "1000000,1000000", "--epochs", "1")
    line = one_line(err)
    assert code == 1 and "1,000,076,000,010 parameters" in line
    assert "would need about" in line and "available" in line
    assert "network:" not in stdout  # refused before the network was built


def test_the_memory_check_applies_to_config_files_and_layer_specs(tmp_path, capsys,
                                                                  monkeypatch):
    monkeypatch.setattr(commands, "_available_memory", lambda: 50 * 2**20)
    config = tmp_path / "big.toml"
    config.write_text("hidden = [3000, 3000]\nepochs = 1\n")
    code, _, err = run(capsys, "train", "--config", config)
    assert code == 1 and "would need about" in one_line(err) and "50 MB available" in err
    code, _, err = run(capsys, "train", "--layers", "conv 2000 3, flatten, dense 10",
                       "--epochs", "1")
    assert code == 1 and "--layers 'conv 2000 3, flatten, dense 10'" in one_line(err)
    # Small networks pass the same check.
    code, _, err = run(capsys, "train", "--hidden", "16", "--epochs", "1", "--quiet",
                       "--out", tmp_path / "small")
    assert code == 0, err


def test_the_estimate_counts_parameters_like_the_network(tmp_path):
    from scratchnn.layers.spec import parse_spec
    from scratchnn.network import MultiLayerNetwork

    spec = "conv 4 3 pad 1, relu, maxpool 2, conv 8 3, batchnorm, flatten, dense 20, relu"
    n_params, _ = commands._spec_size(parse_spec(spec), (1, 12, 12), 10)
    net = MultiLayerNetwork.from_spec(spec, (1, 12, 12), 10)
    running = 2 * 8  # BatchNorm's running mean and variance: state, not parameters
    assert n_params == net.n_params + running


# -- item 9: the data a model file names -----------------------------------------------------------
@pytest.mark.parametrize("spec, kind", [("mnist:/dev/zero", "a character device"),
                                        ("csv:/dev/null", "a character device"),
                                        ("csv:{fifo}", "a FIFO")])
def test_evaluate_never_reads_a_special_file_a_model_names(model_file, tmp_path, capsys, spec,
                                                           kind):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    spec = spec.format(fifo=fifo)
    model = load_model_file(model_file)
    evil = tmp_path / "evil.npz"
    save(model, evil, metadata={"data": spec, "test_data": None, "target": "label"})
    code, stdout, err = run(capsys, "evaluate", "--model", evil)
    assert code == 1 and f"{kind}; data is read only from regular files" in one_line(err)
    assert f"evaluating {spec}: the data the model file says it was trained on" in stdout


# -- item 12: a deep config ------------------------------------------------------------------------
def test_a_deeply_nested_config_is_one_line(tmp_path, capsys):
    config = tmp_path / "deep.toml"
    config.write_text("hidden = " + "[" * 5000 + "]" * 5000 + "\n")
    code, _, err = run(capsys, "train", "--config", config)
    assert code == 1 and "nests arrays or tables too deeply" in one_line(err)


# -- item 13: empty sizes, Ctrl-C, rows of NaN -----------------------------------------------------
@pytest.mark.parametrize("sizes", ["64,,32", "64,", ",64"])
def test_an_empty_hidden_size_is_refused(capsys, sizes):
    code, _, err = run(capsys, "train", "--hidden", sizes)
    assert code == 2 and "--hidden has an empty size between commas" in one_line(err)


def test_no_hidden_layer_is_still_allowed(tmp_path, capsys):
    code, stdout, err = run(capsys, "train", "--hidden", "", "--epochs", "1", "--quiet",
                            "--out", tmp_path / "linear")
    assert code == 0 and "64-10 (relu)" in stdout, err


def test_ctrl_c_in_train_saves_says_so_and_exits_130(tmp_path, capsys, monkeypatch):
    class PressCtrlC(Callback):
        """Stands in for --early-stopping's callback: a real SIGINT after the second epoch."""

        def __init__(self, *args, **kwargs):
            super().__init__()

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(scratchnn.training, "EarlyStopping", PressCtrlC)
    out = tmp_path / "run"
    code, stdout, err = run(capsys, "train", "--hidden", "8", "--epochs", "20",
                            "--early-stopping", "3", "--out", out, "--quiet")
    assert code == 130, err
    assert "interrupted after 2 of 20 epochs" in stdout and "trained 2 epoch(s)" in stdout
    model = load_model_file(out / "model.npz")
    assert model.metadata["interrupted"] and model.metadata["epochs_run"] == 2
    assert (out / "curves.png").exists()


def test_a_predict_row_of_nans_says_it_has_no_values(model_file, tmp_path, capsys):
    path = tmp_path / "rows.csv"
    path.write_text(",".join(["3"] * 64) + "\n" + ",".join(["nan"] * 64) + "\n")
    code, _, err = run(capsys, "predict", "--model", model_file, "--input", path)
    assert code == 1 and "line 2 of" in one_line(err) and "has no values" in err
    path.write_text(",".join(["nan"] * 64) + "\n")
    code, _, err = run(capsys, "predict", "--model", model_file, "--input", path)
    assert code == 1 and "line 1 of" in one_line(err) and "has no values" in err
    path.write_text(",".join(["3"] * 63 + [""]) + "\n")
    code, _, err = run(capsys, "predict", "--model", model_file, "--input", path)
    assert code == 1 and "empty or non-numeric value in column 64" in one_line(err)


def test_a_table_row_of_nothing_says_it_has_no_values(tmp_path, capsys):
    rng = np.random.default_rng(0)
    table = tmp_path / "t.csv"
    rows = ["a,b,y"] + [f"{x:.3f},{z:.3f},{x + z:.3f}" for x, z in rng.normal(size=(60, 2))]
    table.write_text("\n".join(rows) + "\n")
    out = tmp_path / "run"
    assert main(["train", "--data", f"csv:{table}", "--target", "y", "--hidden", "4",
                 "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    rows = tmp_path / "rows.csv"
    rows.write_text("a,b\n1,2\n,\n")
    code, _, err = run(capsys, "predict", "--model", out / "model.npz", "--input", rows)
    assert code == 1 and "line 3 of" in one_line(err) and "has no values" in err


# -- item 18: help and errors of a subcommand ------------------------------------------------------
def test_train_help_has_examples_and_points_to_the_guide(capsys):
    code, out, _ = run(capsys, "train", "--help")
    assert code == 0
    assert "examples:\n  scratchnn train --data digits" in out and "docs/cli.md" in out


@pytest.mark.parametrize("command", ["train", "evaluate --model m.npz", "predict --model m "
                                     "--input x.csv", "info --model m.npz"])
def test_an_unknown_option_of_a_subcommand_names_the_subcommand(capsys, command):
    name = command.split()[0]
    code, _, err = run(capsys, *command.split(), "--bogus")
    assert code == 2
    assert one_line(err) == (f"scratchnn {name}: error: unrecognized arguments: --bogus "
                             f"(see scratchnn {name} --help)")
