import pytest

from contract.images import ImageReferenceError, parse_reference


def test_missing_tag_means_latest() -> None:
    assert parse_reference("busybox").tag == "latest"


def test_registry_port_is_not_taken_for_a_tag() -> None:
    ref = parse_reference("registry.test:5000/team/app", "1.2")

    assert ref.registry == "registry.test:5000"
    assert ref.name == "team/app"
    assert ref.tag == "1.2"


def test_tag_inside_image_is_split_at_last_colon_after_last_slash() -> None:
    ref = parse_reference("registry.test:5000/team/app:1.2")

    assert (ref.registry, ref.name, ref.tag) == (
        "registry.test:5000",
        "team/app",
        "1.2",
    )
    assert str(ref) == "registry.test:5000/team/app:1.2"


def test_same_tag_given_twice_is_accepted() -> None:
    assert parse_reference("app:1.2", "1.2").tag == "1.2"


def test_different_tags_given_twice_are_refused() -> None:
    with pytest.raises(ImageReferenceError, match="tag given twice"):
        parse_reference("app:1.2", "1.3")


def test_docker_hub_path_is_not_a_registry() -> None:
    ref = parse_reference("team/app")

    assert ref.registry is None
    assert ref.name == "team/app"


@pytest.mark.parametrize("image", ["", "app@sha256:abc", "/app", "team//app"])
def test_malformed_images_are_refused(image: str) -> None:
    with pytest.raises(ImageReferenceError):
        parse_reference(image)
