"""The public handbook library: residents' handbooks that are published, nothing else."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cnsc.training.models import Audience, BlockKind, Topic
from cnsc.training.services import (
    handbook_block_add,
    handbook_create,
    handbook_publish,
    handbook_retire,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def handbook(unit, title, *, audience=Audience.RESIDENTS, topic=Topic.SECURITY, publish=True):
    made = handbook_create(unit=unit, title=title, topic=topic, audience=audience)
    handbook_block_add(
        handbook=made, kind=BlockKind.PARAGRAPH, text="Không chuyển tiền cho người lạ."
    )
    return handbook_publish(handbook=made) if publish else made


def test_the_library_lists_published_handbooks_for_residents_by_topic(
    client, home_province, home_commune
):
    scams = handbook(home_province, "Nhận diện cuộc gọi lừa đảo")
    wallet = handbook(home_commune, "Mở ví điện tử an toàn", topic=Topic.PAYMENTS)
    handbook(home_province, "Sổ tay tổ viên", audience=Audience.MEMBERS)
    handbook(home_commune, "Bản nháp chưa duyệt", publish=False)

    response = client.get(reverse("training:handbooks"), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nhận diện cuộc gọi lừa đảo" in html
    assert "Mở ví điện tử an toàn" in html
    assert "Sổ tay tổ viên" not in html
    assert "Bản nháp chưa duyệt" not in html
    assert html.index("Payment accounts and e-wallets") < html.index(
        "Information security and scams"
    )
    assert reverse("training:handbook_download", args=[scams.code]) in html
    assert reverse("training:handbook_download", args=[wallet.code]) in html


def test_the_library_narrows_to_one_commune(client, home_province, home_commune, other_commune):
    handbook(home_province, "Cẩm nang thành phố")
    handbook(other_commune, "Cẩm nang Ba Đình")
    html = client.get(reverse("training:handbooks"), {"xa": home_commune.code}).content.decode()
    assert "Cẩm nang thành phố" in html
    assert "Cẩm nang Ba Đình" not in html


def test_a_published_handbook_downloads_and_nothing_else_does(client, home_province):
    published = handbook(home_province, "Dịch vụ công trực tuyến")
    members_only = handbook(home_province, "Sổ tay tổ viên", audience=Audience.MEMBERS)
    draft = handbook(home_province, "Bản nháp", publish=False)
    retired = handbook_retire(handbook=handbook(home_province, "Bản cũ đã thu hồi"))

    response = client.get(reverse("training:handbook_download", args=[published.code]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF-")
    assert "dich-vu-cong-truc-tuyen-v1.pdf" in response["Content-Disposition"]
    for hidden in (members_only, draft, retired):
        assert (
            client.get(reverse("training:handbook_download", args=[hidden.code])).status_code == 404
        )
