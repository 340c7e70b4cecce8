"""A custom training loop across processes, as in TensorFlow's "Custom training loop with
Keras and MultiWorkerMirroredStrategy" tutorial: a distributed dataset of global batches,
`strategy.run` of a replica step inside @tf.function, the loss scaled by the GLOBAL batch with
tf.nn.compute_average_loss, gradients summed across workers by the optimizer, `strategy.reduce`
of the step loss, metrics read across workers, and a CheckpointManager that only worker 0
writes and every worker restores from (run it twice: the second run resumes).

    mpiexec -n 2 python examples/custom_loop_distributed.py            # 2 workers on this machine
    mpiexec -hosts a,b -n 8 python examples/custom_loop_distributed.py # 8 workers on machines a and b
    python examples/custom_loop_distributed.py                         # 1 worker

MNIST is read by tf.keras.datasets.mnist.load_data() from $TRACEJIT_DATASETS.
"""
import argparse
import os
import time

import numpy as np

import tracejit as tf


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--per-worker-batch", type=int, default=64)
    parser.add_argument("--samples", type=int, default=60000, help="training examples to use (fewer: a quick run)")
    parser.add_argument("--checkpoint-dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "tracejit_ctl"))
    args = parser.parse_args()

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    chief = strategy.cluster_resolver.task_id == 0
    global_batch = args.per_worker_batch * strategy.num_replicas_in_sync

    (x_train, y_train), _ = tf.keras.datasets.mnist.load_data()
    x_train = (x_train[:args.samples] / np.float32(255)).astype(np.float32)
    y_train = y_train[:args.samples].astype(np.int32)
    # every worker shuffles the same way (the seed) and keeps its shard of every global batch
    dataset = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(10000, seed=1).batch(global_batch)
    distributed = strategy.experimental_distribute_dataset(dataset)

    with strategy.scope():
        model = tf.keras.Sequential([tf.keras.Input(shape=(28, 28)), tf.keras.layers.Flatten(),
                                     tf.keras.layers.Dense(128, activation="relu"), tf.keras.layers.Dense(10)])
        optimizer = tf.keras.optimizers.Adam(0.001)
        loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")
        train_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name="train_accuracy")
        epoch = tf.Variable(0, dtype="int64", trainable=False, name="epoch")

    checkpoint = tf.train.Checkpoint(model=model, epoch=epoch)
    manager = tf.train.CheckpointManager(checkpoint, args.checkpoint_dir, max_to_keep=2)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint)        # every worker reads the chief's checkpoint
        if chief:
            print(f"resumed from {manager.latest_checkpoint} at epoch {int(epoch.numpy())}")

    def train_step(inputs):
        images, labels = inputs
        with tf.GradientTape() as tape:
            logits = model(images, training=True)
            loss = tf.nn.compute_average_loss(loss_object(labels, logits), global_batch_size=global_batch)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))     # summed across workers
        train_accuracy.update_state(labels, logits)
        return loss

    @tf.function
    def distributed_train_step(inputs):
        per_replica_loss = strategy.run(train_step, args=(inputs,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica_loss, axis=None)

    if chief:
        print(f"{strategy.num_replicas_in_sync} worker(s), global batch {global_batch}")
    while int(epoch.numpy()) < args.epochs:
        start, total, steps = time.perf_counter(), 0.0, 0
        for batch in distributed:
            total += float(distributed_train_step(batch))
            steps += 1
        accuracy = float(train_accuracy.result())          # a collective: every worker reads it
        epoch.assign_add(1)
        manager.save()                                     # written by worker 0 only
        if chief:
            print(f"epoch {int(epoch.numpy())}: loss {total / steps:.4f}, accuracy {accuracy:.4f}, "
                  f"{(time.perf_counter() - start) / steps * 1e3:.1f} ms/step")
        train_accuracy.reset_state()


if __name__ == "__main__":
    main()
