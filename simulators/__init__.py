"""Simulated sensor fleets for waternet (issue 7): hydraulically true readings from EPANET
runs, bursts and closures with ground truth, MQTT and NB-IoT message streams with faults on
demand, and a load generator. See docs/simulators.md.
"""
