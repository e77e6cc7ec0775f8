package whatsapp

import "errors"

// ErrMalformed is wrapped by every error for a payload that is not a valid WhatsApp Cloud API webhook: not JSON,
// another object than whatsapp_business_account, a message or status without its ids, sender or timestamp, or a
// status value other than sent, delivered, read or failed. The handler answers it with 400.
var ErrMalformed = errors.New("malformed whatsapp webhook")

// ErrUnknownChannel is wrapped when a payload names a phone_number_id that no configured channel has. The handler
// answers it with 404.
var ErrUnknownChannel = errors.New("unknown whatsapp channel")

// ErrInvalidConfig is wrapped by every error of Config.Validate.
var ErrInvalidConfig = errors.New("invalid whatsapp webhook config")
