"""Task services called directly: the owner check and transaction of an update by id."""

import pytest
from django.core.exceptions import ValidationError

from tasks import services
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


def test_task_update_owned_changes_the_users_own_task(user):
    task = TaskFactory(owner=user, title="Old")
    updated = services.task_update_owned(user=user, pk=task.pk, title="  New  ")
    task.refresh_from_db()
    assert (updated.pk, task.title) == (task.pk, "New")


@pytest.mark.parametrize("whose", ["someone else's", "missing", "undecodable"])
def test_task_update_owned_refuses_what_is_not_the_users_as_not_found(user, whose):
    foreign = TaskFactory(title="Theirs")
    pk = {"someone else's": foreign.pk, "missing": 987_654, "undecodable": None}[whose]
    with pytest.raises(ValidationError) as refused:
        services.task_update_owned(user=user, pk=pk, title="Mine now")
    assert refused.value.message_dict == {"id": ["Task not found."]}
    assert refused.value.error_dict["id"][0].code == "not_found"
    foreign.refresh_from_db()
    assert foreign.title == "Theirs"
