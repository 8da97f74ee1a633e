"""Tables the submission service owns."""

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass
