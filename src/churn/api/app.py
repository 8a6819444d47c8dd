"""App factory of the churn API. For now it answers liveness; the scoring routes come next."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from loguru import logger

from churn import logs
from churn.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Builds an app bound to `settings`; uvicorn calls it with no argument (--factory)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logs.setup("api", settings)
        logger.info("churn API starting")
        yield
        logger.info("churn API stopped")

    app = FastAPI(title="churn-monitoring API", lifespan=lifespan)

    @app.get("/health")
    def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    return app
