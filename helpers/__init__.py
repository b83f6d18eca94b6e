"""Shared code for the course "Neural-network classification with Keras".

The package is split by concern; import what you need from its modules::

    from helpers.repro import setup
    from helpers.data import single_neuron_task, circles, fashion_mnist
    from helpers.plots import plot_decision_boundary, plot_history, plot_confusion_matrix
    from helpers.training import find_learning_rate, suggest_learning_rate
    from helpers.grading import check_accuracy

Importing ``helpers`` itself loads nothing heavy, so that :func:`helpers.repro.setup`
can quiet TensorFlow's start-up logging before Keras is first imported.
"""

__version__ = "0.1.0"
