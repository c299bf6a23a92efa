"""The comparison: djangochannelsrestframework's model observer, as its documentation shows it."""

from djangochannelsrestframework.consumers import AsyncAPIConsumer
from djangochannelsrestframework.decorators import action
from djangochannelsrestframework.observer import model_observer

from .models import DcrfItem


class DcrfItemConsumer(AsyncAPIConsumer):
    @model_observer(DcrfItem)
    async def item_activity(self, message, observer=None, **kwargs):
        await self.send_json(message)

    @action()
    async def subscribe_to_items(self, request_id, **kwargs):
        await self.item_activity.subscribe(request_id=request_id)
        return {}, 200
