"""ament_python package of the ROS-free subgoal core (also pip-installable on its own)."""
from setuptools import find_packages, setup

PACKAGE = "subgoal"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["tests"]),
    package_data={"subgoal": ["sim/assets/*", "sim/assets/**/*", "configs/*.yaml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="subgoal developers",
    maintainer_email="dev@subgoal.invalid",
    description="ROS-free core of subgoal",
    license="Apache-2.0",
    entry_points={"console_scripts": ["subgoal = subgoal.cli.main:main"]},
)
