"""IVO's e-service for decisions not executed within three months, entered by a robot.

``adapter`` walks the e-service's web form; ``mapping`` turns an ``ivo.individual_report``
into the form's answers; ``pages`` reads and fills its HTML pages.
"""
