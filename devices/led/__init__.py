"""LEDs: GPIO, serial strips and boards, USB status lights; colour, gamma and slots."""

from devices.family import DeviceFamily

SERIAL = DeviceFamily(
    type="serial",
    options="devices.led.serial:SerialOptions",
    driver="devices.led.serial:SerialLedDriver",
    survey="devices.led.survey:serial_ports",
)

USBLIGHT = DeviceFamily(
    type="usblight",
    options="devices.led.usblight:UsbLightOptions",
    driver="devices.led.usblight:UsbLightDriver",
    survey="devices.led.survey:usb_lights",
    udev_rules="devices:udev/70-agentlight-usblights.rules",
)

GPIO = DeviceFamily(
    type="gpio",
    options="devices.led.gpio:GpioOptions",
    driver="devices.led.gpio:GpioLedDriver",
    survey="devices.led.survey:gpio",
)
