"""airhook as an Airflow plugin (docs/airflow-plugin.md). Airflow loads
:class:`airhook.plugin.entry.AirhookPlugin` through the ``airflow.plugins`` entry point; nothing in
this package imports Airflow at import time except :mod:`airhook.plugin.entry` and the web apps."""
