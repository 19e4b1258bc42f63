"""Mentions in Turkish flow through the same service and are alerted with Turkish reasons."""

from collections.abc import Callable

from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi
from service.app import BrandPulse
from service.config import AppConfig


async def test_a_turkish_complaint_is_alerted_with_turkish_reasons(
    fake_x: FakeXApi, fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    fake_x.post_tweet(
        "@AcmeSupport siparişim 2 haftadır gelmedi, müşteri hizmetlerine ulaşamıyorum. "
        "Paramı iade edin!",
        "ayse_k",
        lang="tr",
    )
    fake_x.post_tweet("@AcmeSupport teşekkürler, sorunu çok hızlı çözdünüz", "mutlu_musteri")
    app = BrandPulse(sandbox_config(BRAND_LANGUAGES="en,tr"))
    await app.run_once()

    [alert] = [m.text for m in fake_telegram.sent]
    assert "ayse_k" in alert
    assert "iade +" in alert
    assert "ulaşamıyorum" in alert or "ulaşamıyor +" in alert
    assert "VADER" not in alert  # VADER knows no Turkish; the reasons come from the lexicon
