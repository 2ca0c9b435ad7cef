from . import controllers
from . import models
from . import wizards
from .hooks import _xero_post_load
