"""Tables the criteria service owns."""

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass
