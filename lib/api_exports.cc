// libonem2m_psk.so is onem2m_psk_core linked whole; its exported symbols
// are the ONEM2M_* functions of include/onem2m/ (see libonem2m_psk.map).
