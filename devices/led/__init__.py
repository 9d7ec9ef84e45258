"""LEDs: GPIO, serial strips and boards, USB status lights; colour, gamma and slots."""
