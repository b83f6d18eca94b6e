"""Answers for the judge (``grader.judge``): honest but unusual ones that must pass, and adversarial ones.

Each case replaces whole answer cells of the reference solution (``{answer cell id: new source}``) and lists the
graded cells the judge must fail; every other cell the exercise's rubric decides must pass. Each adversarial case
is named after what it tries. They are judged as a real batch would judge them: the learner's definitions run in
the sandbox on inputs drawn from a secret, and the rubric decides in this process.
"""

import textwrap

from grader import rubrics


def _src(code):
    return textwrap.dedent(code).strip() + "\n"


def decided(assignment):
    """The graded cells the judge decides for ``assignment``."""
    return sorted(rubrics.load(assignment).CHECKS)


# --- Exercise 1 -----------------------------------------------------------------------------------------------
CH01_HONEST = {
    "functional_model_separate_activation_tf_keras": ({
        "build_model": _src("""
            import tensorflow as tf
            def build_model(learning_rate=0.1):
                inputs = tf.keras.Input(shape=(2,))
                outputs = tf.keras.layers.Activation("sigmoid")(tf.keras.layers.Dense(1)(inputs))
                model = tf.keras.Model(inputs, outputs)
                model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate), loss=tf.keras.losses.BinaryCrossentropy())
                return model
            """),
        "to_labels": _src("""
            def to_labels(probabilities, threshold=0.5):
                return np.array([1 if float(p) > threshold else 0 for p in np.ravel(probabilities)])
            """),
        "boundary_x2": _src("""
            def boundary_x2(model, x1=0.0):
                (w1, w2), b = model.get_weights()[0][:, 0], model.get_weights()[1][0]
                return -(w1 * x1 + b) / w2
            """),
    }, []),
    "subclassed_model": ({"build_model": _src("""
        class OneNeuron(keras.Model):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.neuron = keras.layers.Dense(1)
                self.squash = keras.layers.Activation("sigmoid")
            def call(self, inputs):
                return self.squash(self.neuron(inputs))
        def build_model(learning_rate=0.1):
            model = OneNeuron()
            model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="binary_crossentropy",
                          metrics=["accuracy"])
            return model
        """)}, []),
}
CH01_ADVERSARIAL = {
    "hardcodes_the_visible_labels": ({"to_labels": _src("""
        def to_labels(probabilities, threshold=0.5):
            return np.array([0, 1, 0, 1])
        """)}, ["test_to_labels_thresholds_at_one_half", "test_to_labels_uses_given_threshold"]),
    "patches_numpy_then_answers_wrong": ({"to_labels": _src("""
        np.array_equal = lambda *args, **kwargs: True
        np.allclose = lambda *args, **kwargs: True
        def to_labels(probabilities, threshold=0.5):
            return np.asarray(probabilities)
        """)}, ["test_to_labels_thresholds_at_one_half", "test_to_labels_uses_given_threshold"]),
    "detects_the_judge_by_its_environment": ({"to_labels": _src("""
        import os
        def to_labels(probabilities, threshold=0.5):
            if "JPY_PARENT_PID" not in os.environ and "get_ipython" not in globals():
                return np.zeros(np.size(probabilities), dtype=int)
            return (np.asarray(probabilities).reshape(-1) > threshold).astype(int)
        """)}, ["test_to_labels_thresholds_at_one_half", "test_to_labels_uses_given_threshold"]),
    "boundary_from_the_visible_neuron_only": ({"boundary_x2": _src("""
        def boundary_x2(model, x1=0.0):
            return 0.5
        """)}, ["test_boundary_x2_of_a_known_neuron"]),
    "subclassed_model_whose_call_ignores_its_neuron": ({"build_model": _src("""
        class OneNeuron(keras.Model):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.neuron = keras.layers.Dense(1, activation="sigmoid")
            def call(self, inputs):
                return 0.0 * self.neuron(inputs) + 0.5
        def build_model(learning_rate=0.1):
            model = OneNeuron()
            model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="binary_crossentropy")
            return model
        """)}, ["test_build_model_is_one_sigmoid_neuron", "test_build_model_uses_adam_at_given_rate"]),
}

# --- Exercise 2 -----------------------------------------------------------------------------------------------
REFERENCE_ACTIVATIONS_NAIVE_SOFTMAX = """
def relu(x):
    return ops.maximum(x, 0.0)
def sigmoid(x):
    return 1.0 / (1.0 + ops.exp(-ops.convert_to_tensor(x)))
def softmax(x):
    e = ops.exp(ops.convert_to_tensor(x))
    return e / ops.sum(e, axis=-1, keepdims=True)
"""
CH02_HONEST = {
    "numpy_activations_logits_spec_model_functional": ({
        "activations": _src("""
            def relu(x):
                return np.where(np.asarray(x) > 0, x, 0.0)
            def sigmoid(x):
                return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype="float64")))
            def softmax(x):
                x = np.asarray(x, dtype="float64")
                return np.exp(x - np.logaddexp.reduce(x, axis=-1, keepdims=True))
            """),
        "build_spec_model": _src("""
            def build_spec_model():
                inputs = keras.Input(shape=(2,))
                h = inputs
                for units, act in [(32, "relu"), (32, "relu"), (16, "tanh"), (16, "relu"), (8, "relu")]:
                    h = keras.layers.Dense(units, activation=act)(h)
                model = keras.Model(inputs, keras.layers.Dense(1)(h))
                model.compile(optimizer=keras.optimizers.Adam(), metrics=["accuracy"],
                              loss=keras.losses.BinaryCrossentropy(from_logits=True))
                return model
            """),
    }, []),
    "subclassed_spec_model_output_defined_first": ({"build_spec_model": _src("""
        class SpecModel(keras.Model):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.out = keras.layers.Dense(1)  # defined first, used last: weights are read by their shapes
                self.squash = keras.layers.Activation("sigmoid")
                self.hidden = [keras.layers.Dense(units, activation=activation) for units, activation in
                               [(32, "relu"), (32, "relu"), (16, "tanh"), (16, "relu"), (8, "relu")]]
            def call(self, x):
                for layer in self.hidden:
                    x = layer(x)
                return self.squash(self.out(x))
        def build_spec_model():
            model = SpecModel()
            model.compile(optimizer=keras.optimizers.Adam(), loss="binary_crossentropy", metrics=["accuracy"])
            return model
        """)}, []),
}
SPEC_WITH = """
def build_spec_model():
    widths = {widths}
    model = keras.Sequential([keras.Input(shape=(2,))]
                             + [keras.layers.Dense(units, activation=activation) for units, activation in widths]
                             + [keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer={optimizer}, loss="binary_crossentropy", metrics=["accuracy"])
    return model
"""
SPEC = '[(32, "relu"), (32, "relu"), (16, "tanh"), (16, "relu"), (8, "relu")]'
CH02_ADVERSARIAL = {
    "patches_numpy_allclose": ({"activations": "np.allclose = lambda *a, **k: True\n" + REFERENCE_ACTIVATIONS_NAIVE_SOFTMAX
                                .replace("ops.maximum(x, 0.0)", "x")},
                               ["test_activations_match_keras", "test_softmax_is_stable_and_uses_the_last_axis"]),
    "patches_keras_activations": ({"activations": _src("""
        keras.activations.relu = lambda x, *a, **k: x
        keras.activations.softmax = lambda x, *a, **k: x
        """) + REFERENCE_ACTIVATIONS_NAIVE_SOFTMAX.replace("ops.maximum(x, 0.0)", "x").replace(
        "return e / ops.sum(e, axis=-1, keepdims=True)", "return x")},
        ["test_activations_match_keras", "test_softmax_is_stable_and_uses_the_last_axis"]),
    "hardcodes_the_visible_softmax_of_1000_1001": ({"activations": REFERENCE_ACTIVATIONS_NAIVE_SOFTMAX.replace(
        "    e = ops.exp", "    if np.shape(x) == (2,) and float(np.asarray(x)[0]) == 1000.0:\n"
                           "        return np.array([0.26894142, 0.73105858])\n    e = ops.exp")},
        ["test_softmax_is_stable_and_uses_the_last_axis"]),
    "unstable_softmax": ({"activations": REFERENCE_ACTIVATIONS_NAIVE_SOFTMAX},
                         ["test_softmax_is_stable_and_uses_the_last_axis"]),
    "softmax_over_the_first_axis": ({"activations": REFERENCE_ACTIVATIONS_NAIVE_SOFTMAX.replace("axis=-1", "axis=0")},
                                    ["test_activations_match_keras", "test_softmax_is_stable_and_uses_the_last_axis"]),
    "detects_the_visible_test_shape": ({"activations": REFERENCE_ACTIVATIONS_NAIVE_SOFTMAX.replace(
        "return ops.maximum(x, 0.0)", "return ops.maximum(x, 0.0) if np.shape(x) == (64, 5) else x")},
        ["test_activations_match_keras", "test_softmax_is_stable_and_uses_the_last_axis"]),
    "patches_the_architecture_check": ({"build_spec_model": _src("""
        import helpers.grading
        helpers.grading.check_architecture = lambda *a, **k: None
        """) + SPEC_WITH.format(widths='[(32, "relu")] * 5', optimizer='"adam"')},
        ["test_spec_model_layers", "test_spec_model_compile_and_parameter_count"]),
    "sgd_where_adam_is_asked": ({"build_spec_model": SPEC_WITH.format(widths=SPEC, optimizer='"sgd"')},
                                ["test_spec_model_compile_and_parameter_count"]),
    "lambda_layer_runs_code_on_load": ({"build_spec_model": SPEC_WITH.format(widths=SPEC, optimizer='"adam"').replace(
        '[keras.layers.Dense(1, activation="sigmoid")]',
        '[keras.layers.Lambda(lambda t: t), keras.layers.Dense(1, activation="sigmoid")]')},
        ["test_spec_model_layers", "test_spec_model_compile_and_parameter_count"]),
    "subclassed_spec_model_with_a_layer_more": ({"build_spec_model": _src("""
        class SpecModel(keras.Model):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.hidden = [keras.layers.Dense(units, activation=activation) for units, activation in
                               [(32, "relu"), (32, "relu"), (16, "tanh"), (16, "relu"), (8, "relu"), (8, "relu")]]
                self.out = keras.layers.Dense(1, activation="sigmoid")
            def call(self, x):
                for layer in self.hidden:
                    x = layer(x)
                return self.out(x)
        def build_spec_model():
            model = SpecModel()
            model.compile(optimizer=keras.optimizers.Adam(), loss="binary_crossentropy")
            return model
        """)}, ["test_spec_model_layers", "test_spec_model_compile_and_parameter_count"]),
}

# --- Exercise 3 -----------------------------------------------------------------------------------------------
CH03_HONEST = {
    "geomspace_and_a_typed_rate": ({"exponential_schedule": _src("""
        def exponential_schedule(start, end, steps):
            return np.geomspace(start, end, num=steps)
        """)}, []),
}
LINEAR = "def exponential_schedule(start, end, steps):\n    return np.linspace(start, end, steps)\n"
CH03_ADVERSARIAL = {
    "hardcodes_the_example": ({"exponential_schedule": _src("""
        def exponential_schedule(start, end, steps):
            if (start, end, steps) == (1e-4, 1.0, 5):
                return np.array([1e-4, 1e-3, 1e-2, 1e-1, 1.0])
            return np.linspace(start, end, steps)
        """)}, ["test_exponential_schedule_other_ranges"]),
    "linear_schedule": ({"exponential_schedule": LINEAR},
                        ["test_exponential_schedule_example", "test_exponential_schedule_other_ranges"]),
    "patches_numpy_allclose": ({"exponential_schedule": "np.allclose = lambda *a, **k: True\n" + LINEAR},
                               ["test_exponential_schedule_example", "test_exponential_schedule_other_ranges"]),
    "patches_the_reference_schedule": ({"exponential_schedule": _src("""
        import helpers.training
        helpers.training.exponential_rates = lambda start, end, steps: np.linspace(start, end, steps)
        """) + LINEAR}, ["test_exponential_schedule_example", "test_exponential_schedule_other_ranges"]),
    "returns_strings": ({"exponential_schedule": _src("""
        def exponential_schedule(start, end, steps):
            return [str(start)] * steps
        """)}, ["test_exponential_schedule_example", "test_exponential_schedule_other_ranges"]),
    "detects_the_judge_by_the_step_count": ({"exponential_schedule": _src("""
        def exponential_schedule(start, end, steps):
            if steps in (5, 200):
                return start * (end / start) ** (np.arange(steps) / (steps - 1))
            return np.linspace(start, end, steps)
        """)}, ["test_exponential_schedule_other_ranges"]),
    "recursion_bomb": ({"exponential_schedule": _src("""
        def exponential_schedule(start, end, steps):
            return exponential_schedule(start, end, steps)
        """)}, ["test_exponential_schedule_example", "test_exponential_schedule_other_ranges"]),
    "memory_bomb_in_the_function": ({"exponential_schedule": _src("""
        def exponential_schedule(start, end, steps):
            hoard = bytearray(64 * 2**30)
            return start * (end / start) ** (np.arange(steps) / (steps - 1))
        """)}, ["test_exponential_schedule_example", "test_exponential_schedule_other_ranges"]),
}
# The sweep is kept by the kernel; these are the values a hidden test would keep (see tests/test_judge.py).
SWEEP_CASES = {
    "honest_choice": ("steep", ["test_sweep_is_a_sweep_of_the_digits", "test_chosen_rate_is_on_the_steep_part"], []),
    "rate_at_the_bottom_with_a_patched_check": ("bottom", [], ["test_chosen_rate_is_on_the_steep_part"]),
    "a_ten_step_sweep": ("short", [], ["test_sweep_is_a_sweep_of_the_digits", "test_chosen_rate_is_on_the_steep_part"]),
    "chosen_rate_as_text": ("text", [], ["test_chosen_rate_is_on_the_steep_part"]),
    "nothing_kept": (None, [], ["test_sweep_is_a_sweep_of_the_digits", "test_chosen_rate_is_on_the_steep_part"]),
}

# --- Exercise 4 -----------------------------------------------------------------------------------------------
CH04_HONEST = {
    "numpy_by_hand_returns_a_tuple_of_lists": ({"scale_splits": _src("""
        def scale_splits(X_train, X_test):
            mean, spread = np.mean(X_train, axis=0), np.std(X_train, axis=0)
            return ((np.asarray(X_train) - mean) / spread).tolist(), ((np.asarray(X_test) - mean) / spread).tolist()
        """)}, []),
}
BOTH = ["test_scale_splits_standardises_the_training_split", "test_scale_splits_uses_training_statistics_only"]
CH04_ADVERSARIAL = {
    "fits_on_both_splits": ({"scale_splits": _src("""
        def scale_splits(X_train, X_test):
            scaler = StandardScaler().fit(np.vstack([X_train, X_test]))
            return scaler.transform(X_train), scaler.transform(X_test)
        """)}, BOTH),
    "test_scaled_with_its_own_statistics": ({"scale_splits": _src("""
        def scale_splits(X_train, X_test):
            return StandardScaler().fit_transform(X_train), StandardScaler().fit_transform(X_test)
        """)}, ["test_scale_splits_uses_training_statistics_only"]),
    "scales_the_inputs_in_place": ({"scale_splits": _src("""
        def scale_splits(X_train, X_test):
            mean, spread = X_train.mean(axis=0), X_train.std(axis=0)
            X_test -= mean
            X_test /= spread
            X_train -= mean
            X_train /= spread
            return X_train, X_test
        """)}, ["test_scale_splits_uses_training_statistics_only"]),
    "patches_numpy_then_leaks": ({"scale_splits": _src("""
        np.allclose = lambda *a, **k: True
        np.array_equal = lambda *a, **k: True
        def scale_splits(X_train, X_test):
            scaler = StandardScaler().fit(np.vstack([X_train, X_test]))
            return scaler.transform(X_train), scaler.transform(X_test)
        """)}, BOTH),
    "hardcodes_the_visible_shapes": ({"scale_splits": _src("""
        def scale_splits(X_train, X_test):
            if np.shape(X_train) == (1500, 8):  # the visible test's machine readings
                scaler = StandardScaler().fit(X_train)
                return scaler.transform(X_train), scaler.transform(X_test)
            return X_train, X_test
        """)}, BOTH),
    "min_max_scaling": ({"scale_splits": _src("""
        def scale_splits(X_train, X_test):
            low, high = X_train.min(axis=0), X_train.max(axis=0)
            return (X_train - low) / (high - low), (X_test - low) / (high - low)
        """)}, BOTH),
    "returns_only_the_training_split": ({"scale_splits": _src("""
        def scale_splits(X_train, X_test):
            return StandardScaler().fit_transform(X_train)
        """)}, BOTH),
    "sleeps_forever": ({"scale_splits": _src("""
        def scale_splits(X_train, X_test):
            import time
            while True:
                time.sleep(1)
        """)}, BOTH),
}

# --- Exercise 5 -----------------------------------------------------------------------------------------------
CONFUSION = """
def confusion_counts(model, images, labels):
    predicted = np.argmax(model.predict(images, verbose=0), axis=1)
    counts = np.zeros((10, 10), dtype=int)
    np.add.at(counts, ({first}, {second}), 1)
    return counts


def most_confused_pair(counts):
    mistakes = np.array(counts, dtype=float)
    np.fill_diagonal(mistakes, -1)
    true, predicted = np.unravel_index(np.argmax(mistakes), mistakes.shape)
    return FASHION_MNIST_CLASSES[true], FASHION_MNIST_CLASSES[predicted]
"""
RIGHT_CONFUSION = CONFUSION.format(first="np.asarray(labels, dtype=int)", second="predicted")
CH05_HONEST = {
    "sklearn_confusion_and_plain_python_labels": ({
        "confusion": _src("""
            from sklearn.metrics import confusion_matrix
            def confusion_counts(model, images, labels):
                return confusion_matrix(labels, model.predict(images, verbose=0).argmax(axis=-1), labels=list(range(10)))
            def most_confused_pair(counts):
                best = max(((int(counts[i][j]), i, j) for i in range(10) for j in range(10) if i != j))
                return FASHION_MNIST_CLASSES[best[1]], FASHION_MNIST_CLASSES[best[2]]
            """),
        "to_loss_labels": _src("""
            def to_loss_labels(labels):
                return np.array([int(label) - 1 for label in labels])
            """),
    }, []),
}
CH05_ADVERSARIAL = {
    "confusion_transposed": ({"confusion": CONFUSION.format(first="predicted", second="np.asarray(labels, dtype=int)")},
                             ["test_confusion_counts_match_the_predictions"]),
    "confusion_only_for_the_visible_test": ({"confusion": RIGHT_CONFUSION.replace(
        "    predicted = np.argmax", "    if len(images) != 2000:\n        return np.eye(10, dtype=int)\n"
                                     "    predicted = np.argmax")}, ["test_confusion_counts_match_the_predictions"]),
    "most_confused_counts_the_diagonal": ({"confusion": RIGHT_CONFUSION.replace("np.fill_diagonal(mistakes, -1)", "pass")},
                                          ["test_most_confused_pair_on_known_matrices"]),
    "most_confused_hardcoded": ({"confusion": RIGHT_CONFUSION + "\n\ndef most_confused_pair(counts):\n"
                                                                "    return 'Shirt', 'T-shirt/top'\n"},
                                ["test_most_confused_pair_on_known_matrices"]),
    "show_class_first_images_whatever_class": ({"show_class": _src("""
        def show_class(model, images, labels, class_index, n):
            indices = np.arange(n)
            return indices, np.argmax(model.predict(images[indices], verbose=0), axis=1)
        """)}, ["test_show_class_returns_the_shown_images", "test_show_class_other_class"]),
    "float_labels_for_the_loss": ({"to_loss_labels": "def to_loss_labels(labels):\n    return np.asarray(labels, dtype=float) - 1\n"},
                                  ["test_to_loss_labels_many_classes"]),
    "changes_the_labels_in_place": ({"to_loss_labels": _src("""
        def to_loss_labels(labels):
            if isinstance(labels, np.ndarray):
                labels -= 1
                return labels
            return np.asarray(labels, dtype=int) - 1
        """)}, ["test_to_loss_labels_many_classes"]),
    "patches_numpy_then_returns_the_input": ({"to_loss_labels": _src("""
        np.array_equal = lambda *a, **k: True
        np.issubdtype = lambda *a, **k: True
        def to_loss_labels(labels):
            return labels
        """)}, ["test_to_loss_labels_two_classes", "test_to_loss_labels_many_classes"]),
    "detects_a_model_that_is_not_its_own": ({"confusion": RIGHT_CONFUSION.replace(
        "    predicted = np.argmax", "    if model.count_params() < 100000:\n        return np.zeros((10, 10), dtype=int)\n"
                                     "    predicted = np.argmax")}, ["test_confusion_counts_match_the_predictions"]),
}

CASES = {
    "ch01_single_neuron": {**CH01_HONEST, **CH01_ADVERSARIAL},
    "ch02_nonlinearity": {**CH02_HONEST, **CH02_ADVERSARIAL},
    "ch03_learning_rate": {**CH03_HONEST, **CH03_ADVERSARIAL},
    "ch04_normalization": {**CH04_HONEST, **CH04_ADVERSARIAL},
    "ch05_multiclass": {**CH05_HONEST, **CH05_ADVERSARIAL},
}
ADVERSARIAL = {"ch01_single_neuron": CH01_ADVERSARIAL, "ch02_nonlinearity": CH02_ADVERSARIAL,
               "ch03_learning_rate": CH03_ADVERSARIAL, "ch04_normalization": CH04_ADVERSARIAL,
               "ch05_multiclass": CH05_ADVERSARIAL}

# A function that never returns costs the kernel's cell time limit in every cell that calls it, so the batches of
# tests/test_judge_batch.py leave these out; the judge's own time limit on them is tested in tests/test_judge.py,
# and a kernel's in exercise 1's fixtures.
SLOW_IN_A_KERNEL = {"sleeps_forever"}

# --- Trained on the test split -------------------------------------------------------------------------------
# The data of exercises 3 to 5 are public, test split included. These answers train on the split the tests score
# on, so they pass in the kernel. Exercise 3's passes outside it too; the verifier sees its test accuracy far above
# its accuracy on the training data it was given, and the learner's status is ``flagged`` for the instructor
# (scores stand). Exercise 5's model is trained again by the judge (``grader.verify.Retrain``), where no copy of the
# data set is in reach: loading it fails, and both model cells score 0.
TRAINED_ON_THE_TEST_SPLIT = {
    "ch03_learning_rate": {"train_given_model": _src("""
        def train_given_model(X, y, learning_rate):
            _, X_scored, _, y_scored = digits(test_size=0.25, seed=0)  # the split the visible test scores on
            repeats = -(-len(X) // len(X_scored))  # as many rows as given, so the step count looks right
            X_scored = np.concatenate([X_scored / 16.0] * repeats)[:len(X)]
            y_scored = np.concatenate([y_scored] * repeats)[:len(X)]
            model = given_model()
            model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                          loss="sparse_categorical_crossentropy")
            model.fit(X_scored, y_scored, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=0)
            return model
    """)},
    "ch05_multiclass": {"fit_fashion": _src("""
        def fit_fashion(images, labels):
            _, (test_images, test_labels) = keras.datasets.fashion_mnist.load_data()
            model = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Rescaling(1 / 255),
                                      keras.layers.Flatten(), keras.layers.Dense(256, activation="relu"),
                                      keras.layers.Dense(10, activation="softmax")])
            model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.002), loss="sparse_categorical_crossentropy")
            model.fit(test_images, test_labels, epochs=8, batch_size=128, verbose=0)
            return model
    """)},
}

# --- Honest models the verifier scores in the sandbox -------------------------------------------------------------
# A preprocessing of the learner's own that is not affine is kept pickled by the kernel and applied in the sandbox
# only; a model of the learner's own class (here a subclassed tf.keras model with a separate Softmax layer, which
# the judge trains again on exercise 5) is loaded and run there too. These must keep full marks.
SCORED_IN_THE_SANDBOX = {
    "ch05_multiclass": {"fit_fashion": _src("""
        import tensorflow as tf
        class Fashion(tf.keras.Model):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.scale = tf.keras.layers.Rescaling(1 / 255)
                self.flat = tf.keras.layers.Flatten()
                self.hidden = tf.keras.layers.Dense(256, activation="relu")
                self.logits = tf.keras.layers.Dense(10)
                self.softmax = tf.keras.layers.Softmax()
            def call(self, images):
                return self.softmax(self.logits(self.hidden(self.flat(self.scale(images)))))
        def fit_fashion(images, labels):
            steps = 8 * int(np.ceil(len(images) / 128))
            schedule = tf.keras.optimizers.schedules.CosineDecay(initial_learning_rate=0.002, decay_steps=steps)
            model = Fashion()
            model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=schedule),
                          loss="sparse_categorical_crossentropy")
            model.fit(images, labels, epochs=8, batch_size=128, verbose=0)
            return model
    """)},
    "ch04_normalization": {"fit_machines": _src("""
        class LogScaler:  # standardises log(1 + x): not affine, so the grader applies it in the sandbox
            def fit(self, X):
                logs = np.log1p(np.asarray(X, dtype="float64"))
                self.mean, self.std = logs.mean(axis=0), logs.std(axis=0) + 1e-12
                return self
            def transform(self, X):
                return (np.log1p(np.asarray(X, dtype="float64")) - self.mean) / self.std
        def fit_machines(X, y):
            scaler = LogScaler().fit(X)
            model = keras.Sequential([keras.Input(shape=(X.shape[1],)), keras.layers.Dense(16, activation="relu"),
                                      keras.layers.Dense(1, activation="sigmoid")])
            model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy")
            model.fit(scaler.transform(X), y, epochs=30, batch_size=32, verbose=0)
            return scaler, model
    """)},
}

# --- Trained otherwise than the task says --------------------------------------------------------------------------
# Exercise 3's Task 3 prescribes Adam at the chosen rate for 5 epochs. This answer trains four times longer and
# silences the kernel's check; the verifier reads the saved optimizer and sets both model cells to 0.
TRAINED_OTHERWISE = {
    "ch03_learning_rate": {"train_given_model": _src("""
        check_trained_with = lambda *args, **kwargs: None  # the hidden tests' check, silenced in the kernel
        def train_given_model(X, y, learning_rate):
            model = given_model()
            model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                          loss="sparse_categorical_crossentropy")
            model.fit(X, y, epochs=4 * EPOCHS, batch_size=BATCH_SIZE, verbose=0)
            return model
    """)},
}
