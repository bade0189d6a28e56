: Leaky integrate-and-fire artificial cell with a constant drive, for NEURON's event-driven
: network simulation (spikeq benches/peers). Like NEURON's IntFire1 (m decays exponentially,
: an input event of weight w adds w to m, the cell fires at m >= 1, refractory for `refrac`
: with inputs discarded, then m = 0), plus a drive: m relaxes towards `minf` instead of 0.
: With minf > 1 the cell is a pacemaker; its next firing time is computed analytically and
: kept as the one outstanding self-event (flag 1), moved by every input.

NEURON {
    ARTIFICIAL_CELL LifDrive
    RANGE tau, refrac, minf, m
}

PARAMETER {
    tau = 20 (ms) <1e-9, 1e9>
    refrac = 5 (ms) <0, 1e9>
    minf = 0
}

ASSIGNED {
    m
    t0 (ms)
    active
}

INITIAL {
    m = 0
    t0 = t
    active = 1
    net_send(firetime(), 1)
}

FUNCTION mnow() {
    mnow = minf + (m - minf) * exp(-(t - t0) / tau)
}

FUNCTION firetime() (ms) {
    if (minf > 1 && m < 1) {
        firetime = tau * log((minf - m) / (minf - 1))
    } else if (m >= 1) {
        firetime = 0
    } else {
        firetime = 1e9
    }
}

NET_RECEIVE (w) {
    if (flag == 0) {          : a synaptic input
        if (active) {
            m = mnow() + w
            t0 = t
            net_move(t + firetime())
        }
    } else if (flag == 1) {   : the predicted crossing
        m = mnow()
        t0 = t
        if (m >= 1 - 1e-9) {
            net_event(t)
            active = 0
            m = 0
            net_send(refrac, 2)
        } else {
            net_send(firetime(), 1)
        }
    } else if (flag == 2) {   : end of the refractory period
        active = 1
        m = 0
        t0 = t
        net_send(firetime(), 1)
    }
}
