"""The owner filter appears once in list SQL, and is never skipped when it is missing."""

import pytest
from django.contrib.auth.models import AnonymousUser

from tasks import selectors
from tasks.models import Task
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


def test_a_queryset_already_restricted_to_the_user_is_kept_as_it_is(user):
    queryset = selectors.task_list(user=user)
    assert selectors.task_visible_within(user=user, queryset=queryset) is queryset
    sql = str(queryset.query)
    assert sql.count('"owner_id" =') == 1


def test_other_querysets_get_the_owner_filter(user, other_user):
    theirs = TaskFactory(owner=other_user)
    for queryset in [
        Task.objects.all(),
        Task.objects.filter(owner_id=other_user.pk),
        Task.objects.filter(pk=theirs.pk) | Task.objects.filter(owner_id=user.pk),
        Task.objects.exclude(owner_id=user.pk),
    ]:
        assert list(selectors.task_visible_within(user=user, queryset=queryset)) == []
    assert (
        list(selectors.task_visible_within(user=AnonymousUser(), queryset=Task.objects.all())) == []
    )
