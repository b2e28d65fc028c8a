"""Anymail tracking events (/anymail/<esp>/tracking/) update the reminders' delivery status."""

from anymail.signals import AnymailTrackingEvent

from tasks.reminders.tracking import reminder_delivery_update


def on_tracking(sender, event: AnymailTrackingEvent, esp_name: str, **kwargs) -> None:
    if event.message_id:
        reminder_delivery_update(message_id=str(event.message_id), status=event.event_type)
