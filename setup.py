"""Ships the translation catalogs in the package: the rest of the build is in pyproject.toml.

The ``.po`` sources stay in the checkout's top-level ``locales/`` (the translators' and
``scripts/update_catalogs.py``'s place); building copies them into the wheel as
``bot/locales/<lang>/LC_MESSAGES/messages.po``, where ``bot/i18n.py`` looks first.
An editable install reads them from the checkout instead.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogs(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        for po in sorted(Path("locales").glob("*/LC_MESSAGES/messages.po")):
            target = Path(self.build_lib, "bot", po)
            self.mkpath(str(target.parent))
            self.copy_file(str(po), str(target))


setup(cmdclass={"build_py": BuildWithCatalogs})
