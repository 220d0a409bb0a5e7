"""subgoal.data: rosbag2 recording, recovery and datasets, without ROS.

- ``bag_writer.BagWriter``: crash-safe rosbag2 MCAP writer for CDR bytes (the recorder's core)
- ``session.Session``: one bag per episode + atomic ``session.json`` index
- ``recover.recover`` / ``bag_info.summarize_bag``: ``subgoal bag recover|info``
- ``dataset_builder.build_dataset`` + ``dataset_config.DatasetConfig``: ``subgoal dataset build``
- ``hdf5.load_dataset``: robomimic-layout HDF5 -> numpy for the trainers
- ``relabel``: goal relabeling sampler

See docs/data.md.
"""
