"""Packaging for easytune: every value comes from settings.ini (the nbdev 2 layout)."""
from configparser import ConfigParser
from pathlib import Path
import setuptools

cfg = ConfigParser(delimiters=['='])
cfg.read(Path(__file__).parent / 'settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']

licenses = {'apache2': ('Apache Software License 2.0', 'OSI Approved :: Apache Software License')}
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable',
            '6 - Mature', '7 - Inactive']
lic = licenses[cfg['license']]
pyvers = ['3.10', '3.11', '3.12', '3.13']
req = lambda key: cfg.get(key, '').split()

setuptools.setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    description=cfg['description'],
    long_description=(Path(__file__).parent / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    keywords=cfg['keywords'],
    author=cfg['author'],
    author_email=cfg['author_email'],
    license=lic[0],
    url=cfg['git_url'],
    classifiers=[f'Development Status :: {statuses[int(cfg["status"]) - 1]}',
                 f'Intended Audience :: {cfg["audience"].title()}',
                 f'License :: {lic[1]}',
                 f'Natural Language :: {cfg["language"].title()}']
                + [f'Programming Language :: Python :: {v}' for v in pyvers
                   if tuple(map(int, v.split('.'))) >= tuple(map(int, cfg['min_python'].split('.')))],
    python_requires=f'>={cfg["min_python"]}',
    packages=setuptools.find_packages(include=['easytune', 'easytune.*', 'data_prep', 'data_prep.*']),
    include_package_data=True,
    install_requires=req('requirements'),
    extras_require={'dev': req('dev_requirements'), 'notebooks': req('notebook_requirements'),
                    'official': req('official_requirements'),    # the released models' text towers (easytune.official)
                    'lora': req('lora_requirements')},           # LoRA fine-tuning (easytune.lora; FinetuneConfig.lora_rank)
    zip_safe=False,
    entry_points={'console_scripts': req('console_scripts'),
                  'nbdev': [f'{cfg["lib_path"]}={cfg["lib_path"]}._modidx:d']},
)
