"""Buttons: a push button on a GPIO pin that answers what is waiting for you."""

from devices.family import DeviceFamily

GPIO_BUTTON = DeviceFamily(
    type="gpio_button",
    options="devices.button.gpio:GpioButtonOptions",
    driver="devices.button.gpio:GpioButtonDriver",
)
